import fs from 'node:fs';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/**
 * Where the machine's CPU went during a measurement (Linux /proc; elsewhere only the event loop figure):
 * this process's main thread (the gateway, or the raw pg client loops), the rest of this process (the
 * load-generator worker, libuv and V8 helper threads), the Postgres server's processes, and everything.
 * In cores: 1.0 is one core busy for the whole measurement.
 */
export interface CpuUse {
  mainThread: number;
  restOfProcess: number;
  postgres: number;
  /** All busy time of the machine (cores), and the cores there are. */
  machine: number;
  /** Busy time that is none of the above: other processes, kernel threads. */
  other: number;
  cores: number;
  /** Share of the main thread's event loop time spent running JavaScript/callbacks rather than waiting. */
  eventLoopUtilization: number;
}

interface Snapshot {
  at: number;
  main: number;
  proc: number;
  postgres: Map<string, number>;
  busy: number;
  elu: EventLoopUtilization;
}

const TICK = 100; // USER_HZ on Linux

function ticks(statFile: string): number {
  try {
    const text = fs.readFileSync(statFile, 'utf8');
    // Fields after the command (which may hold spaces) start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return 0;
  }
}

/**
 * CPU ticks of each Postgres server process (backends come and go: compare per process): the server's own
 * processes and the backends of `database`; backends of other databases count as other work.
 */
function postgresTicks(database: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
      if (database !== undefined) {
        // A backend's title: "postgres: <cluster>: <user> <database> <host(port)> <state>".
        const title = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        const backend = /^postgres: [^:]+: (\S+) (\S+) \S+\(\d+\)|^postgres: [^:]+: (\S+) (\S+) \[local\]/.exec(title);
        const db = backend ? backend[2] ?? backend[4] : undefined;
        if (db !== undefined && db !== database) continue;
      }
    } catch {
      continue;
    }
    out.set(pid, ticks(`/proc/${pid}/stat`));
  }
  return out;
}

/** Ticks spent between two snapshots by the processes alive at the second (a process that exited in between is lost). */
function postgresDelta(a: Map<string, number>, b: Map<string, number>): number {
  let total = 0;
  for (const [pid, t] of b) total += Math.max(0, t - (a.get(pid) ?? 0));
  return total;
}

function busyTicks(): number {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...
    return cpu.reduce((a, b) => a + b, 0) - cpu[3] - cpu[4];
  } catch {
    return 0;
  }
}

function snapshot(database: string | undefined): Snapshot {
  return {
    at: performance.now(),
    main: ticks(`/proc/self/task/${process.pid}/stat`),
    proc: ticks('/proc/self/stat'),
    postgres: postgresTicks(database),
    busy: busyTicks(),
    elu: performance.eventLoopUtilization(),
  };
}

/**
 * Measures CPU use around `work`; Postgres is the server's processes and the backends of `database`.
 * Backends that exit during it are not counted (the pools keep theirs).
 */
export async function measureCpu<T>(cores: number, database: string | undefined, work: () => Promise<T>): Promise<{ result: T; cpu: CpuUse }> {
  const a = snapshot(database);
  const result = await work();
  const b = snapshot(database);
  const seconds = (b.at - a.at) / 1000;
  const perCore = (t: number) => t / TICK / seconds;
  const pg = postgresDelta(a.postgres, b.postgres);
  return {
    result,
    cpu: {
      mainThread: perCore(b.main - a.main),
      restOfProcess: perCore(b.proc - a.proc - (b.main - a.main)),
      postgres: perCore(pg),
      machine: perCore(b.busy - a.busy),
      other: Math.max(0, perCore(b.busy - a.busy - (b.proc - a.proc) - pg)),
      cores,
      eventLoopUtilization: performance.eventLoopUtilization(b.elu, a.elu).utilization,
    },
  };
}

/** Busy cores of the whole machine over `ms` while this process waits: other work that will compete. */
export async function backgroundLoad(ms = 1000): Promise<number> {
  const a = busyTicks();
  await new Promise((r) => setTimeout(r, ms));
  return (busyTicks() - a) / TICK / (ms / 1000);
}

/**
 * Waits until the machine has been quiet (other work below `threshold` cores) for two consecutive seconds,
 * or `maxS` seconds have passed; returns the last reading.
 */
export async function waitQuiet(maxS: number, threshold = 0.25): Promise<number> {
  const until = Date.now() + maxS * 1000;
  let quiet = 0;
  let load = await backgroundLoad();
  while (Date.now() < until) {
    quiet = load < threshold ? quiet + 1 : 0;
    if (quiet >= 2) break;
    load = await backgroundLoad();
  }
  return load;
}
