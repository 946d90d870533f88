/**
 * The HTTP load generator, run in a worker thread so that it does not share the event loop with the
 * in-process gateway it measures (bench/http-load.ts starts it and posts one job at a time). Two kinds of job: autocannon over a
 * list of prepared paths, picked at random for each request; and page walks (follow `next` links) on a
 * fixed number of keep-alive connections.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import autocannon from 'autocannon';
import { Samples } from './stats';
import { writeRequest, type WriteTemplate } from './write-requests';

export interface AutocannonJob {
  kind: 'autocannon';
  base: string;
  token: string;
  paths: string[];
  connections: number;
  durationS: number;
  /**
   * Instead of durationS: this many requests, then stop once the last response has arrived, so that no
   * request is cut in flight at the end (the server has answered everything the run counts).
   */
  amount?: number;
  /** The resourceType every 2xx response must carry ('' for a non-FHIR answer). */
  expect: string;
  /** A write instead of a GET: each request's body is built from this (bench/write-requests.ts). */
  write?: WriteTemplate;
}

export interface WalkJob {
  kind: 'walk';
  base: string;
  token: string;
  /** First-page paths; each walk takes the next one round-robin. */
  starts: string[];
  pages: number;
  connections: number;
  durationS: number;
}

export type Job = AutocannonJob | WalkJob;

/** What went wrong, a few examples of it. */
export interface Failures {
  /** Responses by status code. */
  statuses: Record<string, number>;
  /** Non-2xx responses. */
  non2xx: number;
  /** 200 responses that were not the expected resource. */
  mismatches: number;
  /** Socket errors and timeouts. */
  errors: number;
  samples: string[];
}

export interface AutocannonResult {
  kind: 'autocannon';
  elapsedS: number;
  latencies: Float64Array;
  failures: Failures;
}

export interface WalkResult {
  kind: 'walk';
  elapsedS: number;
  /** Latencies per page number (index 0 = first page). */
  pageLatencies: Float64Array[];
  /** Wall time of each complete walk. */
  walkLatencies: Float64Array;
  /** Walks that ended before `pages` pages because a Bundle had no next link. */
  shortWalks: number;
  failures: Failures;
}

function newFailures(): Failures {
  return { statuses: {}, non2xx: 0, mismatches: 0, errors: 0, samples: [] };
}

function sample(f: Failures, text: string): void {
  if (f.samples.length < 5) f.samples.push(text.length > 600 ? `${text.slice(0, 600)}…` : text);
}

/** The resourceType is the first member the gateway writes; looking at the head avoids parsing every body. */
function isResource(body: string, type: string): boolean {
  const m = /"resourceType"\s*:\s*"([A-Za-z]+)"/.exec(body.slice(0, 400));
  return m !== null && m[1] === type;
}

async function runAutocannon(job: AutocannonJob): Promise<AutocannonResult> {
  const latencies = new Samples();
  const failures = newFailures();
  const paths = job.paths;
  const started = performance.now();
  let finish!: (result: autocannon.Result) => void;
  let fail!: (err: unknown) => void;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const options: autocannon.Options = {
    url: job.base,
    connections: job.connections,
    ...(job.amount !== undefined ? { amount: Math.max(job.amount, job.connections) } : { duration: job.durationS }),
    timeout: 30,
    headers: { authorization: `Bearer ${job.token}`, accept: 'application/fhir+json' },
    requests: [
      {
        method: job.write ? 'POST' : 'GET',
        setupRequest: (req) => {
          const path = paths[Math.floor(Math.random() * paths.length)];
          if (!job.write) return { ...req, path };
          const write = writeRequest(job.write);
          return { ...req, method: write.method, path: write.path, body: write.body, headers: { ...req.headers, ...write.headers } };
        },
        onResponse: (status, body) => {
          failures.statuses[status] = (failures.statuses[status] ?? 0) + 1;
          if (status < 200 || status > 299) {
            failures.non2xx++;
            sample(failures, `HTTP ${status}: ${body}`);
          } else if (job.expect && !isResource(body, job.expect)) {
            failures.mismatches++;
            sample(failures, `HTTP ${status}, not a ${job.expect}: ${body}`);
          }
        },
      },
    ],
  };
  const instance = autocannon(options, (err, result) => (err ? fail(err) : finish(result)));
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => latencies.push(responseTime));
  const result = await done;
  failures.errors = result.errors;
  if (result.errors > 0) sample(failures, `${result.errors} socket errors (${result.timeouts} timeouts)`);
  return { kind: 'autocannon', elapsedS: (performance.now() - started) / 1000, latencies: latencies.values().slice(), failures };
}

async function runWalks(job: WalkJob): Promise<WalkResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections });
  const origin = new URL(job.base);
  const headers = { authorization: `Bearer ${job.token}`, accept: 'application/fhir+json' };
  const pages = Array.from({ length: job.pages }, () => new Samples());
  const walks = new Samples();
  const failures = newFailures();
  let shortWalks = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + job.durationS * 1000;

  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.get({ host: origin.hostname, port: origin.port, path, headers, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });

  /** One walk: 'done' after `pages` pages, 'short' when a page had no next link, 'failed', or 'cut' at the deadline. */
  const walk = async (start: string): Promise<'done' | 'short' | 'failed' | 'cut'> => {
    let path = start;
    for (let page = 0; page < job.pages; page++) {
      if (page > 0 && performance.now() >= deadline) return 'cut';
      const t0 = performance.now();
      let res: { status: number; body: string };
      try {
        res = await get(path);
      } catch (err) {
        failures.errors++;
        sample(failures, `page ${page + 1}: ${(err as Error).message}`);
        return 'failed';
      }
      pages[page].push(performance.now() - t0);
      failures.statuses[res.status] = (failures.statuses[res.status] ?? 0) + 1;
      if (res.status !== 200) {
        failures.non2xx++;
        sample(failures, `page ${page + 1}: HTTP ${res.status}: ${res.body}`);
        return 'failed';
      }
      let bundle: { resourceType?: string; link?: { relation: string; url: string }[] };
      try {
        bundle = JSON.parse(res.body);
      } catch {
        bundle = {};
      }
      if (bundle.resourceType !== 'Bundle') {
        failures.mismatches++;
        sample(failures, `page ${page + 1}: not a Bundle: ${res.body}`);
        return 'failed';
      }
      if (page === job.pages - 1) return 'done';
      const link = bundle.link?.find((l) => l.relation === 'next')?.url;
      if (!link) return 'short';
      const url = new URL(link, job.base);
      path = url.pathname + url.search;
    }
    return 'done';
  };

  const walker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const walkStart = performance.now();
      const outcome = await walk(job.starts[next++ % job.starts.length]);
      if (outcome === 'done') walks.push(performance.now() - walkStart);
      else if (outcome === 'short') shortWalks++;
      else if (outcome === 'failed' && failures.samples.length >= 5 && failures.non2xx + failures.errors > 1000) break;
    }
  };
  await Promise.all(Array.from({ length: job.connections }, walker));
  agent.destroy();
  return {
    kind: 'walk',
    elapsedS: (performance.now() - started) / 1000,
    pageLatencies: pages.map((p) => p.values().slice()),
    walkLatencies: walks.values().slice(),
    shortWalks,
    failures,
  };
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (job: Job) => {
    const run = job.kind === 'autocannon' ? runAutocannon(job) : runWalks(job);
    run.then(
      (result) => port.postMessage({ ok: true, result }),
      (err: unknown) => port.postMessage({ ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
    );
  });
}
