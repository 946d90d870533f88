import type { Counts, LoadReport, Targets } from './dataset';
import type { StatementProfile } from './explain';
import type { CpuUse } from './cpu';
import type { LogCapture } from './gateway';
import type { ProfileSummary } from './profile';
import type { Failures } from './load-worker';
import type { LatencySummary } from './stats';

export const RATIO_TARGET = 0.4;

export interface Side {
  /** Requests per second (pages per second for the walk). */
  reqPerS: number;
  latency: LatencySummary;
  elapsedS: number;
  /** Walk only. */
  walksPerS?: number;
  pages?: LatencySummary[];
  shortWalks?: number;
  /** Where the machine's CPU went during the measurement. */
  cpu?: CpuUse;
}

export interface ScenarioResult {
  name: string;
  title: string;
  request: string;
  kind: 'read' | 'search' | 'walk';
  targetP95Ms: number;
  /** ok: ran clean; failed: non-2xx, wrong bodies or socket errors; unavailable: the endpoint refused before load. */
  status: 'ok' | 'failed' | 'unavailable';
  problem?: string;
  gateway?: Side & { failures: Failures; /** CPU time of the gateway's thread per request. */ cpuMsPerRequest?: number };
  raw?: Side & { errors: number; samples: string[] };
  /** gateway req/s over raw req/s. */
  ratio?: number;
  meetsP95?: boolean;
  meetsRatio?: boolean;
  /** What the gateway sent to Postgres per request, with planning/execution time from EXPLAIN ANALYZE. */
  statements?: StatementProfile[];
  /** Differences between the gateway's answers and the same query on the views (sampled before the load). */
  equivalence?: string[];
  profile?: ProfileSummary;
  /** With --wait-quiet: other work on the machine just before the gateway measurement (cores). */
  backgroundLoadCores?: number;
}

export interface Machine {
  cpuModel: string;
  cpus: number;
  totalMemoryGiB: number;
  node: string;
  os: string;
  postgres: string;
  postgresSettings: Record<string, string>;
}

export interface BenchReport {
  startedAt: string;
  machine: Machine;
  options: {
    /** null with --skip-load: the database is measured as it is. */
    scale: number | null;
    connections: number;
    durationS: number;
    warmupS: number;
    seed: number;
    gatewayPoolSize: number;
    rawPoolSize: number;
    paramPool: number;
  };
  database: string;
  /** Busy cores of the machine in the second before the measurements (other work competing for the CPU). */
  backgroundLoadCores: number;
  dataset: { targets: Targets; counts: Counts; load: LoadReport | null };
  params: { patients: number; observations: number; reports: number; walks: number; walkMinObservations: number };
  scenarios: ScenarioResult[];
  gatewayLog: LogCapture;
  targets: { readP95Ms: number; searchP95Ms: number; ratio: number };
}

export const f1 = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(1));
export const f0 = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : Math.round(n).toLocaleString('en-US'));
export const pct = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : `${Math.round(n * 100)}%`);
const shorten = (sql: string, n: number) => (sql.length > n ? `${sql.slice(0, n)}…` : sql);

/** A Markdown table, columns padded. */
export function table(header: string[], rows: string[][], rightAlign: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    '| ' + cells.map((c, i) => (rightAlign[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ') + ' |';
  const rule = '|' + widths.map((w, i) => (rightAlign[i] ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|') + '|';
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function machineLine(m: Machine): string {
  return (
    `machine: ${m.cpus} x ${m.cpuModel}, ${m.totalMemoryGiB.toFixed(1)} GiB, Node ${m.node}, ${m.os}; ` +
    `Postgres ${m.postgres} (${Object.entries(m.postgresSettings).map(([k, v]) => `${k}=${v}`).join(', ')})`
  );
}

/** scale null: the database as found (--skip-load). */
export function datasetLine(c: Counts, scale: number | null, database: string): string {
  return (
    `dataset (${scale === null ? 'as found, --skip-load' : `scale ${scale}`}): ${c.patients.toLocaleString('en-US')} patients, ${c.assessments.toLocaleString('en-US')} assessments, ` +
    `${c.biomarkerValues.toLocaleString('en-US')} biomarker values in ${database}`
  );
}

export function formatReport(r: BenchReport): string {
  const out: string[] = [];
  out.push('');
  out.push(`MediLens FHIR gateway benchmark, ${r.startedAt}`);
  out.push(machineLine(r.machine));
  out.push(datasetLine(r.dataset.counts, r.options.scale, r.database));
  out.push(
    `load: ${r.options.connections} connections, ${r.options.durationS} s per scenario after ${r.options.warmupS} s warm-up; ` +
      `gateway pool ${r.options.gatewayPoolSize}, raw pg pool ${r.options.rawPoolSize}; ` +
      `parameters from ${r.params.patients} patients (walks: ${r.params.walks} patients with >= ${r.params.walkMinObservations} observations)`,
  );
  if (r.backgroundLoadCores > 0.25) {
    out.push(
      `WARNING: the machine was already busy with ${r.backgroundLoadCores.toFixed(2)} cores of other work before the measurements; ` +
        'the numbers below are lower than on a quiet machine ("other" in the CPU section shows it per scenario)',
    );
  }
  out.push('');
  const rows = r.scenarios.map((s) => {
    const g = s.gateway;
    const target = `p95 < ${s.targetP95Ms} ms${s.meetsP95 === undefined ? '' : s.meetsP95 ? ' ok' : ' MISS'}; ratio >= ${pct(RATIO_TARGET)}${
      s.meetsRatio === undefined ? '' : s.meetsRatio ? ' ok' : ' MISS'
    }`;
    if (s.status === 'unavailable' || !g) {
      return [s.title, 'n/a', '-', '-', '-', f0(s.raw?.reqPerS), f1(s.raw?.latency.p95), '-', `UNAVAILABLE: see below`];
    }
    return [
      s.title + (s.status === 'failed' ? ' (FAILED)' : ''),
      f0(g.reqPerS),
      f1(g.latency.p50),
      f1(g.latency.p95),
      f1(g.latency.p99),
      f0(s.raw?.reqPerS),
      f1(s.raw?.latency.p95),
      pct(s.ratio),
      target,
    ];
  });
  out.push(
    table(
      ['scenario', 'gateway req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'raw pg req/s', 'raw p95 ms', 'gateway/raw', 'targets'],
      rows,
      [false, true, true, true, true, true, true, true, false],
    ),
  );
  const walk = r.scenarios.find((s) => s.kind === 'walk' && s.gateway?.pages);
  if (walk?.gateway?.pages) {
    out.push('');
    out.push(
      `${walk.title}: walks/s gateway ${f1(walk.gateway.walksPerS)}, raw pg ${f1(walk.raw?.walksPerS)} ` +
        `(req/s above are pages/s; ${walk.gateway.shortWalks ?? 0} walks ended early for lack of a next link)`,
    );
    const pages = walk.gateway.pages;
    out.push(
      table(
        ['page', 'gateway n', 'p50 ms', 'p95 ms', 'p99 ms', 'raw p50 ms', 'raw p95 ms'],
        pages.map((p, i) => [
          String(i + 1),
          f0(p.count),
          f1(p.p50),
          f1(p.p95),
          f1(p.p99),
          f1(walk.raw?.pages?.[i]?.p50),
          f1(walk.raw?.pages?.[i]?.p95),
        ]),
        [true, true, true, true, true, true, true],
      ),
    );
  }
  const problems = r.scenarios.filter((s) => s.status !== 'ok');
  if (problems.length > 0) {
    out.push('');
    for (const s of problems) {
      out.push(`${s.title}: ${s.status.toUpperCase()}: ${s.problem ?? ''}`);
      for (const sample of s.gateway?.failures.samples ?? []) out.push(`    ${sample}`);
    }
  }
  const traced = r.scenarios.filter((s) => (s.statements?.length ?? 0) > 0);
  if (traced.length > 0) {
    out.push('');
    out.push(
      'gateway statements per request (Postgres time: EXPLAIN ANALYZE EXECUTE of the statement prepared as the gateway does, ' +
        'same role, identity and parameters, median of the settled runs):',
    );
    for (const s of traced) {
      const total = s.statements!.reduce((n, st) => n + st.perRequest, 0);
      out.push(`  ${s.name}: ${total.toFixed(1)} statements per request`);
      for (const st of s.statements!) {
        const time =
          st.planningMs !== undefined
            ? `; Postgres, prepared: planning ${st.planningMs.toFixed(2)} ms (first execution ${st.firstPlanningMs!.toFixed(2)} ms), execution ${st.executionMs!.toFixed(2)} ms`
            : st.error
              ? `; EXPLAIN failed: ${st.error}`
              : '';
        out.push(`    ${st.perRequest.toFixed(2)} x ${shorten(st.sql, 100)}`);
        out.push(`         round trip seen by the gateway ${st.roundTripMs.toFixed(2)} ms${time}`);
        if (st.generic) {
          out.push(
            `         custom plan at every execution; forced generic plan: planning ${st.generic.planningMs.toFixed(2)} ms, execution ${st.generic.executionMs.toFixed(2)} ms`,
          );
        }
        const seq = (st.plan ?? []).filter((n) => n.startsWith('Seq Scan') || n.includes('] Seq Scan'));
        if (seq.length > 0) out.push(`         sequential scans: ${seq.join('; ')}`);
      }
    }
  }
  const cpu = r.scenarios.filter((s) => s.gateway?.cpu);
  if (cpu.length > 0) {
    out.push('');
    out.push(
      `CPU during each measurement, in cores (of ${cpu[0].gateway!.cpu!.cores}): main thread (gateway; raw pg client loops) / ` +
        'rest of this process (load generator worker) / Postgres (server processes and this database\'s backends) / other processes and kernel = whole machine:',
    );
    const fmt = (c: CpuUse | undefined) =>
      c
        ? `${c.mainThread.toFixed(2)} (event loop ${pct(c.eventLoopUtilization)} busy) / ${c.restOfProcess.toFixed(2)} / ` +
          `${c.postgres.toFixed(2)} / ${c.other.toFixed(2)} = ${c.machine.toFixed(2)}`
        : '-';
    for (const s of cpu) {
      out.push(
        `  ${s.name}: gateway run ${fmt(s.gateway!.cpu)}, ${f1(s.gateway!.cpuMsPerRequest === undefined ? undefined : s.gateway!.cpuMsPerRequest)} ms gateway CPU per request; raw run ${fmt(s.raw?.cpu)}`,
      );
    }
  }
  const eq = r.scenarios.filter((s) => (s.equivalence?.length ?? 0) > 0);
  if (eq.length > 0) {
    out.push('');
    out.push('WARNING: gateway answers that differ from the same query on the views (the ratio may compare unequal work):');
    for (const s of eq) for (const w of s.equivalence!) out.push(`  ${s.name}: ${w}`);
  }
  const prof = r.scenarios.filter((s) => s.profile);
  if (prof.length > 0) {
    out.push('');
    out.push("gateway thread CPU profile during each measurement (self time; idle = waiting for I/O):");
    for (const s of prof) {
      const p = s.profile!;
      out.push(
        `  ${s.name}: idle ${pct(p.idle)}, GC ${pct(p.garbageCollection)}; by package: ` +
          p.byPackage.slice(0, 8).map((x) => `${x.name} ${pct(x.share)}`).join(', '),
      );
      out.push(`    top: ${p.top.slice(0, 6).map((x) => `${x.fn} ${pct(x.share)}`).join('; ')}`);
    }
  }
  if (r.gatewayLog.errors > 0) {
    out.push('');
    out.push(`gateway logged ${r.gatewayLog.errors} error lines; first: ${r.gatewayLog.samples[0] ?? ''}`);
  }
  out.push('');
  return out.join('\n');
}
