import { performance } from 'node:perf_hooks';
import { Pool, type PoolClient } from 'pg';
import { BenchClient } from './gateway';
import { Samples } from './stats';

/**
 * The floor: the same queries straight through pg, prepared (named statements), on a pool as large as the
 * HTTP concurrency. Every connection carries the platform identity for the session, so a non-superuser
 * owner (FORCE ROW LEVEL SECURITY) sees the rows too; a superuser bypasses the policies altogether.
 */
export function rawPool(url: string, size: number): Pool {
  // Startup options: set for the session before the first query, no extra round trip.
  return new Pool({ connectionString: url, max: size, options: '-c app.user_role=system -c app.all_orgs=on', Client: BenchClient });
}

export interface RawResult {
  elapsedS: number;
  /** Latency of each unit of work (one request's worth of queries). */
  latencies: Float64Array;
  /** Extra latencies the work recorded by label (the walk's pages). */
  extra: Map<string, Float64Array>;
  errors: number;
  samples: string[];
}

export type Recorder = (label: string, ms: number) => void;

/** `connections` loops, each on its own pooled client, running `unit` back to back until the time is up. */
export async function runRaw(
  pool: Pool,
  connections: number,
  durationS: number,
  unit: (client: PoolClient, i: number, record: Recorder) => Promise<void>,
): Promise<RawResult> {
  const latencies = new Samples();
  const extra = new Map<string, Samples>();
  const record: Recorder = (label, ms) => {
    let s = extra.get(label);
    if (!s) extra.set(label, (s = new Samples()));
    s.push(ms);
  };
  const samples: string[] = [];
  let errors = 0;
  let n = 0;
  const clients = await Promise.all(Array.from({ length: connections }, () => pool.connect()));
  const started = performance.now();
  const deadline = started + durationS * 1000;
  try {
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          try {
            await unit(client, n++, record);
            latencies.push(performance.now() - t0);
          } catch (err) {
            errors++;
            if (samples.length < 5) samples.push((err as Error).message);
            if (errors > 100) throw err;
          }
        }
      }),
    );
  } finally {
    for (const c of clients) c.release();
  }
  return {
    elapsedS: (performance.now() - started) / 1000,
    latencies: latencies.values().slice(),
    extra: new Map([...extra].map(([k, v]) => [k, v.values().slice()])),
    errors,
    samples,
  };
}
