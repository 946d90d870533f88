import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AutocannonJob, AutocannonResult, Job, WalkJob, WalkResult } from './load-worker';

type Reply = { ok: true; result: AutocannonResult | WalkResult } | { ok: false; error: string };

/**
 * The load generator: one worker thread for the whole run (started, compiled and warmed once), so the
 * gateway under test keeps this thread's event loop to itself. Jobs run one at a time.
 */
export class LoadGenerator {
  private readonly worker: Worker;
  private pending: { resolve: (r: AutocannonResult | WalkResult) => void; reject: (e: Error) => void } | null = null;
  private dead: Error | null = null;

  constructor() {
    const file = path.join(__dirname, 'load-worker.ts');
    // The worker compiles bench/load-worker.ts with ts-node, as `npm run bench` does for this file.
    this.worker = new Worker(`require('ts-node').register({ transpileOnly: true }); require(${JSON.stringify(file)});`, { eval: true });
    this.worker.on('message', (msg: Reply) => {
      const p = this.pending;
      this.pending = null;
      if (!p) return;
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`load generator failed: ${msg.error}`));
    });
    const fail = (err: Error) => {
      this.dead = err;
      this.pending?.reject(err);
      this.pending = null;
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`load generator exited with code ${code}`)));
  }

  run(job: AutocannonJob): Promise<AutocannonResult>;
  run(job: WalkJob): Promise<WalkResult>;
  run(job: Job): Promise<AutocannonResult | WalkResult>;
  run(job: Job): Promise<AutocannonResult | WalkResult> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.pending) return Promise.reject(new Error('load generator is busy'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
