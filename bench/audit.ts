/**
 * npm run bench:audit -- what recording every request costs. The read scenarios of `npm run bench`
 * (patient read, Observation search, DiagnosticReport search with _include) on its dataset, against the
 * gateway with the audit trail on and with AUDIT=off, alternating (on, off, on, off ... --rounds pairs)
 * so that other work on the machine hits both sides; each measurement on a gateway of its own. Per
 * scenario: req/s and latency on and off, the ratio on/off against the target (at most 15% lower), and
 * for the ON runs the events written per second, the most events waiting in memory, and the audit_events
 * and access_logs rows the run added, which must equal the requests the server received (every request
 * audited; the run fails otherwise). With --writes, the same for conditional creates (POST Patient with
 * If-None-Exist), whose events are stored inside the write's transaction. Prints tables and writes
 * bench/results/audit.json.
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import type { Pool } from 'pg';
import { DEFAULT_AUDIT_OPTIONS, type AuditTrailStats } from '../src/audit/trail';
import {
  benchDatabase,
  describeFailures,
  failed,
  machine,
  positive,
  preflight,
  prepareDataset,
  sayAs,
  scenarioList,
  TOKEN_BUDGET_S,
  writeOrganization,
  WRITE_SCOPE,
} from './common';
import { backgroundLoad, measureCpu, waitQuiet, type CpuUse } from './cpu';
import type { Counts, LoadReport } from './dataset';
import { startGateway, type Gateway } from './gateway';
import { LoadGenerator } from './http-load';
import type { Failures } from './load-worker';
import { pickParams, type Params } from './params';
import { profiled, type ProfileSummary } from './profile';
import { rawPool } from './raw';
import { datasetLine, f0, f1, machineLine, pct, table, type Machine } from './report';
import { SCENARIOS, WALK_PAGE_SIZE, WALK_PAGES, type ScenarioName } from './scenarios';
import { summarize, type LatencySummary } from './stats';
import type { WriteTemplate } from './write-requests';

/** Throughput with the audit on, as a share of throughput with it off: at least this (at most 15% lower). */
export const AUDIT_RATIO_TARGET = 0.85;

const READ_SCENARIOS: readonly ScenarioName[] = ['patient-read', 'observation-search', 'report-search'];
/** With --writes. */
const WRITE_SCENARIO = 'patient-create';

interface Options {
  scale: number;
  connections: number;
  duration: number;
  warmup: number;
  skipLoad: boolean;
  /** Read scenarios and/or the write scenario. */
  only?: string[];
  rounds: number;
  /** true: the write scenario in DATABASE_URL; a string: in that database. */
  writes?: boolean | string;
  seed: number;
  params: number;
  gatewayPool?: number;
  waitQuiet: number;
  profile: boolean;
  flushInterval?: number;
  maxBatch?: number;
  out: string;
}

type SideName = 'on' | 'off';

/** What one measurement left in the audit tables, and what the trail says it did. */
interface AuditCheck {
  /** Requests the HTTP server received during the measurement (the load generator completes every one it sends). */
  received: number;
  /** audit_events rows added (all of them, and those naming this gateway as their source), access_logs rows added. */
  eventsAdded: number;
  eventsFromThisGateway: number;
  accessLogsAdded: number;
  eventsPerS: number;
  /** Flush transactions during the measurement, their mean time, rows per flush (events + access_logs). */
  flushes: number;
  flushMsMean: number;
  rowsPerFlush: number;
  /** Events stored inside writes' transactions during the measurement. */
  eventsWithWrites: number;
  /** The most events / access_logs rows waiting in memory at once, over this gateway's warm-up and measurement. */
  maxPendingEvents: number;
  maxPendingLogs: number;
  /**
   * The hash chain's head row (audit_chain) before and after the measurement: its table's pages, and the
   * buffers one lookup of it touches. Every event locks and updates that one row, so each insert walks
   * whatever dead versions of it cleanup has not removed yet (a few buffers when healthy).
   */
  chainHead: { before: ChainHead; after: ChainHead };
  /** Every request audited once (ON), nothing recorded (OFF). */
  ok: boolean;
  problem?: string;
}

interface ChainHead {
  pages: number;
  buffersPerLookup: number;
}

/** The oldest open transaction of the whole server: while it is open, dead row versions anywhere stay. */
interface OldTransaction {
  database: string;
  pid: number;
  ageS: number;
}

interface Run {
  side: SideName;
  round: number;
  reqPerS: number;
  completed: number;
  elapsedS: number;
  latency: LatencySummary;
  failures: Failures;
  cpu: CpuUse;
  /** CPU per completed request: the gateway's thread, and Postgres (this database's backends and the server's processes). */
  gatewayCpuMsPerRequest: number;
  postgresCpuMsPerRequest: number;
  audit: AuditCheck;
  /** The audit statements the gateway sent during the measurement (round trip as the gateway saw it). */
  auditStatements: { sql: string; count: number; meanMs: number }[];
  gatewayErrors: number;
  backgroundLoadCores?: number;
  /** With --profile: where the gateway's thread spent its time. */
  profile?: ProfileSummary;
  /** A transaction open for more than a minute when the measurement ended (holds back cleanup). */
  oldTransaction?: OldTransaction;
}

interface SideSummary {
  runs: number;
  /** All completed requests of the side's runs over their time. */
  reqPerS: number;
  /** Over every latency of the side's runs. */
  latency: LatencySummary;
  gatewayCpuMsPerRequest: number;
  postgresCpuMsPerRequest: number;
}

interface ScenarioSummary {
  name: string;
  title: string;
  request: string;
  kind: 'read' | 'write';
  status: 'ok' | 'failed' | 'unavailable';
  problem?: string;
  on?: SideSummary;
  off?: SideSummary;
  /** on req/s over off req/s, all rounds; and per round (pair). */
  ratio?: number;
  roundRatios?: number[];
  meetsTarget?: boolean;
  /** Every request of every ON run audited, nothing recorded in the OFF runs. */
  everyRequestAudited?: boolean;
  /** ON runs together. */
  audit?: {
    completed: number;
    received: number;
    eventsAdded: number;
    accessLogsAdded: number;
    eventsPerS: number;
    maxPendingEvents: number;
    maxPendingLogs: number;
    flushesPerS: number;
    rowsPerFlush: number;
    flushMsMean: number;
    /** Buffers one lookup of the chain head touched before the first ON run, and after the last. */
    headBuffersPerLookup: [number, number];
  };
  equivalence?: string[];
  runs: Run[];
}

interface AuditReport {
  startedAt: string;
  machine: Machine;
  options: {
    scale: number | null;
    connections: number;
    durationS: number;
    warmupS: number;
    rounds: number;
    seed: number;
    gatewayPoolSize: number;
    paramPool: number;
    audit: { flushIntervalMs: number; maxBatch: number; maxPending: number };
  };
  database: string;
  writesDatabase?: string;
  backgroundLoadCores: number;
  dataset: { counts: Counts; load: LoadReport | null };
  target: { ratio: number };
  scenarios: ScenarioSummary[];
}

/** One thing to measure on and off: a read scenario of `npm run bench`, or the conditional create. */
interface Workload {
  name: string;
  title: string;
  request: string;
  kind: 'read' | 'write';
  /** Request paths (autocannon picks one at random per request), given the gateway's canonical base. */
  paths(canonicalBase: string): string[];
  expect: string;
  write?: WriteTemplate;
  databaseUrl: string;
  databaseName?: string;
  /** Where the added rows are counted (a pool on databaseUrl). */
  pool: Pool;
  /** Before each measurement (the write scenario: fresh statistics, as autovacuum would keep them). */
  prepare?: () => Promise<void>;
  scope?: string;
  organizationId?: string;
  /** Before the load on each gateway: a problem that makes the endpoint unavailable, or null (and warnings). */
  check?: (gw: Gateway, token: string, paths: string[]) => Promise<{ problem: string | null; warnings: string[] }>;
}

const say = sayAs('bench:audit');

function program(): Command {
  return new Command('bench:audit')
    .description('Throughput and latency of the read scenarios with the audit trail on vs AUDIT=off, alternating; checks every request was audited')
    .addOption(new Option('--scale <n>', 'dataset size, as npm run bench (10k patients / 100k assessments / 1M biomarker values times n)').argParser(positive('--scale', false)).default(1))
    .addOption(new Option('--connections <n>', 'concurrent HTTP connections').argParser(positive('--connections', true)).default(16))
    .addOption(new Option('--duration <s>', 'seconds of measurement per scenario, side and round').argParser(positive('--duration', false)).default(15))
    .addOption(
      new Option('--warmup <s>', 'seconds of unmeasured load before each measurement; its rate sets the requests measured').argParser(positive('--warmup', false)).default(3),
    )
    .addOption(new Option('--rounds <n>', 'on/off pairs per scenario (on, off, on, off ...)').argParser(positive('--rounds', true)).default(2))
    .option('--skip-load', 'do not load the dataset; use the database as it is (its schema is migrated)', false)
    .addOption(
      new Option('--only <scenarios>', `comma-separated subset of: ${READ_SCENARIOS.join(', ')}, ${WRITE_SCENARIO} (with --writes)`).argParser((v) =>
        scenarioList<string>([...READ_SCENARIOS, WRITE_SCENARIO])(v),
      ),
    )
    .option(
      '--writes [database-url]',
      'also the conditional create (POST Patient, If-None-Exist), in an organization of its own in this database (default: DATABASE_URL; it adds patients)',
    )
    .addOption(new Option('--seed <n>', 'demo data seed, and the salt that picks request parameters').argParser((v) => Number(v)).default(42))
    .addOption(new Option('--params <n>', 'patients to draw request parameters from').argParser(positive('--params', true)).default(500))
    .addOption(new Option('--gateway-pool <n>', "the gateway's database pool (default: DB_POOL_SIZE, else 10)").argParser(positive('--gateway-pool', true)))
    .addOption(
      new Option('--wait-quiet <s>', 'before each measurement, wait up to this long for other work on the machine to stop (0: do not wait)')
        .argParser((v) => Number(v))
        .default(0),
    )
    .addOption(new Option('--flush-interval <ms>', "the audit trail's flush interval (default: the gateway's)").argParser(positive('--flush-interval', false)))
    .addOption(new Option('--max-batch <rows>', "the audit trail's rows per statement (default: the gateway's)").argParser(positive('--max-batch', true)))
    .option('--profile', "CPU-profile the gateway's thread during each measurement (bench/results/audit-<scenario>-<on|off>-<round>.cpuprofile)", false)
    .option('--out <file>', 'where to write the JSON results', path.join(__dirname, 'results', 'audit.json'));
}

/** Where the audit tables end now: the chain's last seq and the last access_logs id. */
async function marks(pool: Pool): Promise<{ seq: string; logId: string }> {
  const { rows } = await pool.query<{ seq: string; log_id: string }>(
    `SELECT (SELECT COALESCE(max(seq), 0) FROM audit_events)::text AS seq, (SELECT COALESCE(max(id), 0) FROM access_logs)::text AS log_id`,
  );
  return { seq: rows[0].seq, logId: rows[0].log_id };
}

async function addedSince(pool: Pool, since: { seq: string; logId: string }, source: string): Promise<{ events: number; ours: number; logs: number }> {
  const { rows } = await pool.query<{ events: number; ours: number; logs: number }>(
    `SELECT (SELECT count(*) FROM audit_events WHERE seq > $1::bigint)::int AS events,
            (SELECT count(*) FROM audit_events WHERE seq > $1::bigint AND source = $3)::int AS ours,
            (SELECT count(*) FROM access_logs WHERE id > $2::bigint)::int AS logs`,
    [since.seq, since.logId, source],
  );
  return rows[0];
}

async function chainHead(pool: Pool): Promise<ChainHead> {
  const { rows } = await pool.query<{ pages: string }>(`SELECT pg_relation_size('audit_chain') / current_setting('block_size')::int AS pages`);
  const plan = await pool.query<{ 'QUERY PLAN': [{ Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }] }>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT seq FROM audit_chain WHERE id = 1`,
  );
  const p = plan.rows[0]['QUERY PLAN'][0].Plan;
  return { pages: Number(rows[0].pages), buffersPerLookup: p['Shared Hit Blocks'] + p['Shared Read Blocks'] };
}

async function oldestTransaction(pool: Pool): Promise<OldTransaction | undefined> {
  const { rows } = await pool.query<{ datname: string; pid: number; age_s: number }>(
    `SELECT datname, pid, EXTRACT(EPOCH FROM now() - xact_start)::float8 AS age_s FROM pg_stat_activity
      WHERE backend_xmin IS NOT NULL AND xact_start < now() - interval '60 seconds' ORDER BY xact_start LIMIT 1`,
  );
  return rows[0] ? { database: rows[0].datname, pid: rows[0].pid, ageS: rows[0].age_s } : undefined;
}

const delta = (a: Readonly<AuditTrailStats>, b: Readonly<AuditTrailStats>) => ({
  batches: b.batches - a.batches,
  flushMs: b.flushMs - a.flushMs,
  rows: b.eventsFlushed - a.eventsFlushed + (b.accessLogsWritten - a.accessLogsWritten),
  eventsWithWrites: b.eventsWithWrites - a.eventsWithWrites,
});

/** One measurement: a fresh gateway with the audit on or off, warm-up, load, then every row it recorded counted. */
async function measure(
  w: Workload,
  side: SideName,
  round: number,
  runId: string,
  load: LoadGenerator,
  opts: Options,
  equivalence: string[],
): Promise<{ run: Run; latencies: Float64Array; poolSize: number } | string> {
  const source = `bench-audit ${runId} ${w.name} ${side} #${round}`;
  await w.prepare?.();
  const gw = await startGateway({
    databaseUrl: w.databaseUrl,
    poolSize: opts.gatewayPool,
    logLevel: 'warn',
    audit: side === 'on',
    auditSource: source,
    scope: w.scope,
    organizationId: w.organizationId,
    ...(opts.flushInterval !== undefined || opts.maxBatch !== undefined
      ? { auditTuning: { ...(opts.flushInterval !== undefined ? { flushIntervalMs: opts.flushInterval } : {}), ...(opts.maxBatch !== undefined ? { maxBatch: opts.maxBatch } : {}) } }
      : {}),
  });
  try {
    const token = await gw.token();
    const paths = w.paths(gw.config.canonicalBase);
    if (paths.length === 0) return 'no request parameters could be drawn from the data (is the dataset loaded?)';
    if (w.check) {
      const { problem, warnings } = await w.check(gw, token, paths);
      if (problem) return problem;
      for (const x of warnings) if (!equivalence.includes(x)) equivalence.push(x);
    }
    const job = (durationS: number, amount?: number) =>
      load.run({ kind: 'autocannon', base: gw.base, token, paths, connections: opts.connections, durationS, amount, expect: w.expect, write: w.write });
    let backgroundLoadCores: number | undefined;
    if (opts.waitQuiet > 0) backgroundLoadCores = await waitQuiet(opts.waitQuiet);
    const warm = await job(opts.warmup);
    // The measurement is a number of requests (the warm-up's rate times --duration), not a time: it ends
    // when the last response has arrived, so no request is cut in flight and every one counts both ways.
    const amount = Math.max(opts.connections, Math.round((warm.latencies.length / warm.elapsedS) * opts.duration));
    // Nothing of the warm-up (its requests cut at the end, the token request) may land in the measured counts.
    await gw.idle();
    // A request cut at the end is recorded once its handler has settled, a moment after it (middleware.ts).
    await new Promise((resolve) => setTimeout(resolve, 100));
    await gw.audit.flush();
    const before = await marks(w.pool);
    const headBefore = await chainHead(w.pool);
    const statsBefore = gw.audit.stats;
    const receivedBefore = gw.requests.received;
    const errorsBefore = gw.log.errors;
    gw.resetTrace();

    const measured = () => measureCpu(os.cpus().length, w.databaseName, () => job(opts.duration, amount));
    let profile: ProfileSummary | undefined;
    let result: Awaited<ReturnType<typeof measured>>['result'];
    let cpu: CpuUse;
    if (opts.profile) {
      const p = await profiled(path.join(path.dirname(opts.out), `audit-${w.name}-${side}-${round}.cpuprofile`), measured);
      ({ result, cpu } = p.result);
      profile = p.summary;
    } else {
      ({ result, cpu } = await measured());
    }

    await gw.idle();
    // A request cut at the end is recorded once its handler has settled, a moment after it (middleware.ts).
    await new Promise((resolve) => setTimeout(resolve, 100));
    await gw.audit.flush();
    const received = gw.requests.received - receivedBefore;
    const added = await addedSince(w.pool, before, source);
    const headAfter = await chainHead(w.pool);
    const oldTransaction = await oldestTransaction(w.pool);
    const stats = gw.audit.stats;
    const d = delta(statsBefore, stats);
    const completed = result.latencies.length;
    const problems: string[] = [];
    if (side === 'on') {
      if (added.events !== received) problems.push(`${added.events} audit_events rows for ${received} requests`);
      if (added.ours !== added.events) problems.push(`${added.events - added.ours} audit_events rows not from this gateway`);
      if (added.logs !== received) problems.push(`${added.logs} access_logs rows for ${received} requests`);
      if (received !== completed) problems.push(`the server received ${received} requests, the load generator completed ${completed}`);
    } else if (added.events !== 0 || added.logs !== 0) {
      problems.push(`AUDIT=off, yet ${added.events} audit_events and ${added.logs} access_logs rows were added`);
    }
    const auditStatements = gw
      .statements()
      .filter((st) => /^INSERT INTO (audit_events|access_logs)\b/.test(st.sql))
      .map((st) => ({ sql: st.sql.slice(0, 60), count: st.count, meanMs: st.totalMs / st.count }));
    const perRequest = (cores: number) => (completed > 0 ? (cores * result.elapsedS * 1000) / completed : NaN);
    const run: Run = {
      side,
      round,
      reqPerS: completed / result.elapsedS,
      completed,
      elapsedS: result.elapsedS,
      latency: summarize(result.latencies),
      failures: result.failures,
      cpu,
      gatewayCpuMsPerRequest: perRequest(cpu.mainThread),
      postgresCpuMsPerRequest: perRequest(cpu.postgres),
      audit: {
        received,
        eventsAdded: added.events,
        eventsFromThisGateway: added.ours,
        accessLogsAdded: added.logs,
        eventsPerS: added.events / result.elapsedS,
        flushes: d.batches,
        flushMsMean: d.batches > 0 ? d.flushMs / d.batches : 0,
        rowsPerFlush: d.batches > 0 ? d.rows / d.batches : 0,
        eventsWithWrites: d.eventsWithWrites,
        maxPendingEvents: stats.maxPendingEvents,
        maxPendingLogs: stats.maxPendingLogs,
        chainHead: { before: headBefore, after: headAfter },
        ok: problems.length === 0,
        ...(problems.length > 0 ? { problem: problems.join('; ') } : {}),
      },
      auditStatements,
      gatewayErrors: gw.log.errors - errorsBefore,
      ...(backgroundLoadCores !== undefined ? { backgroundLoadCores } : {}),
      ...(oldTransaction ? { oldTransaction } : {}),
      ...(profile ? { profile } : {}),
    };
    return { run, latencies: result.latencies, poolSize: gw.config.dbPoolSize };
  } finally {
    await gw.stop();
  }
}

function sideSummary(runs: Run[], latencies: Float64Array[]): SideSummary {
  const completed = runs.reduce((n, r) => n + r.completed, 0);
  const elapsed = runs.reduce((n, r) => n + r.elapsedS, 0);
  const all = new Float64Array(latencies.reduce((n, l) => n + l.length, 0));
  latencies.reduce((at, l) => (all.set(l, at), at + l.length), 0);
  const weighted = (f: (r: Run) => number) => runs.reduce((n, r) => n + f(r) * r.completed, 0) / Math.max(1, completed);
  return {
    runs: runs.length,
    reqPerS: completed / elapsed,
    latency: summarize(all),
    gatewayCpuMsPerRequest: weighted((r) => r.gatewayCpuMsPerRequest),
    postgresCpuMsPerRequest: weighted((r) => r.postgresCpuMsPerRequest),
  };
}

async function measureWorkload(
  w: Workload,
  runId: string,
  load: LoadGenerator,
  opts: Options,
  seen: { poolSize?: number },
): Promise<ScenarioSummary> {
  const summary: ScenarioSummary = { name: w.name, title: w.title, request: w.request, kind: w.kind, status: 'ok', runs: [] };
  const equivalence: string[] = [];
  const latencies: Record<SideName, Float64Array[]> = { on: [], off: [] };
  say(`${w.name}: ${w.request}`);
  for (let round = 1; round <= opts.rounds; round++) {
    for (const side of ['on', 'off'] as const) {
      const measured = await measure(w, side, round, runId, load, opts, equivalence);
      if (typeof measured === 'string') {
        summary.status = 'unavailable';
        summary.problem = measured;
        say(`${w.name}: UNAVAILABLE (audit ${side}): ${measured}`);
        return summary;
      }
      const { run } = measured;
      seen.poolSize ??= measured.poolSize;
      latencies[side].push(measured.latencies);
      summary.runs.push(run);
      const a = run.audit;
      say(
        `${w.name} round ${round} audit ${side.padEnd(3)}: ${run.reqPerS.toFixed(0)} req/s, p50 ${run.latency.p50.toFixed(1)} ms, p95 ${run.latency.p95.toFixed(1)} ms; ` +
          (side === 'on'
            ? `${run.completed} completed, ${a.received} received, +${a.eventsAdded} audit_events, +${a.accessLogsAdded} access_logs, ` +
              `${a.flushes} flushes (${a.rowsPerFlush.toFixed(0)} rows, ${a.flushMsMean.toFixed(1)} ms each), max pending ${a.maxPendingEvents}; ` +
              `chain head ${a.chainHead.before.pages} -> ${a.chainHead.after.pages} pages, ${a.chainHead.before.buffersPerLookup} -> ${a.chainHead.after.buffersPerLookup} buffers per lookup`
            : `${run.completed} completed, nothing recorded: ${a.eventsAdded + a.accessLogsAdded === 0 ? 'yes' : 'NO'}`),
      );
      if (failed(run.failures)) {
        summary.status = 'failed';
        summary.problem = `${summary.problem ? `${summary.problem}; ` : ''}audit ${side} round ${round}: ${describeFailures(run.failures)}`;
        say(`${w.name}: FAILED: ${describeFailures(run.failures)}`);
        for (const s of run.failures.samples) say(`    ${s}`);
      }
      if (!a.ok) say(`${w.name}: AUDIT CHECK FAILED (audit ${side}, round ${round}): ${a.problem}`);
      if (run.oldTransaction) {
        const t = run.oldTransaction;
        say(`${w.name}: WARNING: a transaction open for ${t.ageS.toFixed(0)} s (database ${t.database}, pid ${t.pid}) holds back cleanup: the chain head's dead versions pile up`);
      }
      if (run.gatewayErrors > 0) say(`${w.name}: the gateway logged ${run.gatewayErrors} errors (audit ${side}, round ${round})`);
    }
  }
  if (equivalence.length > 0) summary.equivalence = equivalence;
  const on = summary.runs.filter((r) => r.side === 'on');
  const off = summary.runs.filter((r) => r.side === 'off');
  summary.on = sideSummary(on, latencies.on);
  summary.off = sideSummary(off, latencies.off);
  summary.ratio = summary.on.reqPerS / summary.off.reqPerS;
  summary.roundRatios = on.map((r, i) => r.reqPerS / off[i].reqPerS);
  summary.meetsTarget = summary.ratio >= AUDIT_RATIO_TARGET;
  summary.everyRequestAudited = summary.runs.every((r) => r.audit.ok);
  const onElapsed = on.reduce((n, r) => n + r.elapsedS, 0);
  const flushes = on.reduce((n, r) => n + r.audit.flushes, 0);
  summary.audit = {
    completed: on.reduce((n, r) => n + r.completed, 0),
    received: on.reduce((n, r) => n + r.audit.received, 0),
    eventsAdded: on.reduce((n, r) => n + r.audit.eventsAdded, 0),
    accessLogsAdded: on.reduce((n, r) => n + r.audit.accessLogsAdded, 0),
    eventsPerS: on.reduce((n, r) => n + r.audit.eventsAdded, 0) / onElapsed,
    maxPendingEvents: Math.max(...on.map((r) => r.audit.maxPendingEvents)),
    maxPendingLogs: Math.max(...on.map((r) => r.audit.maxPendingLogs)),
    flushesPerS: flushes / onElapsed,
    rowsPerFlush: on.reduce((n, r) => n + r.audit.rowsPerFlush * r.audit.flushes, 0) / Math.max(1, flushes),
    flushMsMean: on.reduce((n, r) => n + r.audit.flushMsMean * r.audit.flushes, 0) / Math.max(1, flushes),
    headBuffersPerLookup: [on[0].audit.chainHead.before.buffersPerLookup, on[on.length - 1].audit.chainHead.after.buffersPerLookup],
  };
  return summary;
}

function formatAuditReport(r: AuditReport): string {
  const out: string[] = [''];
  out.push(`MediLens FHIR gateway: audit trail on vs off, ${r.startedAt}`);
  out.push(machineLine(r.machine));
  out.push(datasetLine(r.dataset.counts, r.options.scale, r.database) + (r.writesDatabase ? `; writes in ${r.writesDatabase}` : ''));
  const o = r.options;
  out.push(
    `load: ${o.connections} connections, about ${o.durationS} s per measurement (the warm-up's rate times ${o.durationS} s, in requests) after ${o.warmupS} s warm-up, ${o.rounds} rounds (on, off, on, off ...), ` +
      `a fresh gateway per measurement (pool ${o.gatewayPoolSize}); audit flush every ${o.audit.flushIntervalMs} ms, up to ${o.audit.maxBatch} rows per statement`,
  );
  if (r.backgroundLoadCores > 0.25) {
    out.push(`WARNING: the machine was already busy with ${r.backgroundLoadCores.toFixed(2)} cores of other work before the measurements`);
  }
  out.push('');
  const ok = r.scenarios.filter((s) => s.on && s.off);
  out.push(
    table(
      ['scenario', 'req/s on', 'req/s off', 'on/off', 'per round', 'p50 on', 'p50 off', 'p95 on', 'p95 off', `target >= ${pct(r.target.ratio)}`],
      ok.map((s) => [
        s.title + (s.status === 'failed' ? ' (FAILED)' : ''),
        f0(s.on!.reqPerS),
        f0(s.off!.reqPerS),
        pct(s.ratio),
        (s.roundRatios ?? []).map((x) => pct(x)).join(' '),
        f1(s.on!.latency.p50),
        f1(s.off!.latency.p50),
        f1(s.on!.latency.p95),
        f1(s.off!.latency.p95),
        s.meetsTarget ? 'PASS' : 'FAIL',
      ]),
      [false, true, true, true, false, true, true, true, true, false],
    ),
  );
  out.push('');
  out.push('audit ON runs together: rows added vs requests (received at the server; completed by the load generator), the queue, the flushes:');
  out.push(
    table(
      ['scenario', 'completed', 'received', 'audit_events +', 'access_logs +', 'every request audited', 'events/s', 'max pending', 'flushes/s', 'rows/flush', 'ms/flush', 'chain head buffers'],
      ok.map((s) => {
        const a = s.audit!;
        return [
          s.title,
          f0(a.completed),
          f0(a.received),
          f0(a.eventsAdded),
          f0(a.accessLogsAdded),
          s.everyRequestAudited ? 'yes' : 'NO',
          f0(a.eventsPerS),
          `${f0(a.maxPendingEvents)} (logs ${f0(a.maxPendingLogs)})`,
          f0(a.flushesPerS),
          f1(a.rowsPerFlush),
          f1(a.flushMsMean),
          `${a.headBuffersPerLookup[0]} -> ${a.headBuffersPerLookup[1]}`,
        ];
      }),
      [false, true, true, true, true, false, true, false, true, true, true, true],
    ),
  );
  out.push('');
  out.push('CPU per request, on / off (ms): the gateway thread; Postgres (this database\'s backends and the server\'s own processes):');
  for (const s of ok) {
    out.push(
      `  ${s.name}: gateway ${s.on!.gatewayCpuMsPerRequest.toFixed(2)} / ${s.off!.gatewayCpuMsPerRequest.toFixed(2)}, ` +
        `Postgres ${s.on!.postgresCpuMsPerRequest.toFixed(2)} / ${s.off!.postgresCpuMsPerRequest.toFixed(2)}`,
    );
  }
  const profiles = ok.flatMap((s) => s.runs.filter((x) => x.profile).map((x) => ({ s, x, p: x.profile! })));
  if (profiles.length > 0) {
    out.push('');
    out.push("gateway thread CPU profile per measurement (self time; idle = waiting for I/O):");
    for (const { s, x, p } of profiles) {
      out.push(`  ${s.name} audit ${x.side} round ${x.round}: idle ${pct(p.idle)}, GC ${pct(p.garbageCollection)}; ${p.byPackage.slice(0, 8).map((b) => `${b.name} ${pct(b.share)}`).join(', ')}`);
      out.push(`    top: ${p.top.slice(0, 6).map((t) => `${t.fn} ${pct(t.share)}`).join('; ')}`);
    }
  }
  const problems = r.scenarios.filter((s) => s.status !== 'ok' || s.everyRequestAudited === false);
  if (problems.length > 0) {
    out.push('');
    for (const s of problems) {
      if (s.problem) out.push(`${s.title}: ${s.status.toUpperCase()}: ${s.problem}`);
      for (const run of s.runs.filter((x) => !x.audit.ok)) out.push(`${s.title}: audit ${run.side} round ${run.round}: AUDIT CHECK FAILED: ${run.audit.problem}`);
    }
  }
  const held = r.scenarios.flatMap((s) => s.runs.filter((x) => x.oldTransaction).map((x) => `${s.name} audit ${x.side} round ${x.round}`));
  if (held.length > 0) {
    out.push(
      `WARNING: a transaction open for over a minute held back cleanup during ${held.join(', ')}: the chain head's dead versions ` +
        'piled up (see "chain head buffers"), and every audit insert walks them',
    );
  }
  const eq = r.scenarios.filter((s) => (s.equivalence?.length ?? 0) > 0);
  for (const s of eq) for (const w of s.equivalence!) out.push(`WARNING: ${s.name}: not the same answer as the views: ${w}`);
  out.push('');
  return out.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const cmd = program().exitOverride();
  let opts: Options;
  try {
    cmd.parse(argv, { from: 'user' });
    opts = cmd.opts<Options>();
  } catch (err) {
    return (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  }
  const database = benchDatabase('bench:audit');
  if (database === 2) return 2;
  const { url, where, databaseName } = database;
  if (opts.warmup + opts.duration > TOKEN_BUDGET_S) {
    process.stderr.write(`bench:audit: --warmup + --duration must stay under ${TOKEN_BUDGET_S} s (one access token per measurement lives 300 s)\n`);
    return 2;
  }
  if (opts.only && opts.only.every((n) => n === WRITE_SCENARIO) && (opts.writes === undefined || opts.writes === false)) {
    process.stderr.write(`bench:audit: nothing to measure (${WRITE_SCENARIO} needs --writes)\n`);
    return 2;
  }
  const startedAt = new Date().toISOString();
  const runId = crypto.randomUUID().slice(0, 8);

  const { counts, load } = await prepareDataset(url, where, { ...opts, migrate: true }, say);
  const pool = rawPool(url, 2);
  const writesUrl = opts.writes === undefined || opts.writes === false ? null : opts.writes === true ? url : opts.writes;
  const writesPool = writesUrl === null ? null : writesUrl === url ? pool : rawPool(writesUrl, 2);
  const generator = new LoadGenerator();
  try {
    const params: Params = await pickParams(pool, opts.params, opts.seed, WALK_PAGES, WALK_PAGE_SIZE);
    say(`parameters: ${params.patients.length} patients, ${params.observations.length} observation searches, ${params.reports.length} report searches`);
    const host = await machine(pool);

    const workloads: Workload[] = [];
    for (const scenario of SCENARIOS.filter((s) => READ_SCENARIOS.includes(s.name) && (!opts.only || opts.only.includes(s.name)))) {
      workloads.push({
        name: scenario.name,
        title: scenario.title,
        request: scenario.request,
        kind: 'read',
        paths: (canonicalBase) => scenario.paths(params, canonicalBase),
        expect: scenario.expect,
        databaseUrl: url,
        databaseName,
        pool,
        check: (gw, token, paths) => preflight(gw, token, scenario, paths, params, pool),
      });
    }
    if (writesUrl !== null && writesPool !== null && (!opts.only || opts.only.includes(WRITE_SCENARIO))) {
      const organization = await writeOrganization(writesUrl, 'bench audit writes');
      const w = new URL(writesUrl);
      say(`writes: organization ${organization} in ${w.hostname}:${w.port || 5432}${w.pathname}`);
      workloads.push({
        name: WRITE_SCENARIO,
        title: 'Patient conditional create',
        request: 'POST /fhir/Patient, If-None-Exist: identifier={new MRN} (201, Prefer: return=minimal)',
        kind: 'write',
        paths: () => ['/'],
        expect: '',
        write: { kind: 'patient-create', mrns: [] },
        databaseUrl: writesUrl,
        databaseName: decodeURIComponent(w.pathname.replace(/^\//, '')) || undefined,
        pool: writesPool,
        scope: WRITE_SCOPE,
        organizationId: organization,
        // Every measurement adds thousands of patients: without statistics (this server may run without
        // autovacuum) the planner would take the growing tables for empty, as bench/writes.ts also avoids.
        prepare: async () => {
          await writesPool.query('ANALYZE');
        },
      });
    }

    const background = await backgroundLoad();
    if (background > 0.25) say(`WARNING: the machine is busy with ${background.toFixed(2)} cores of other work; both sides will be low, the ratio less sure`);
    const scenarios: ScenarioSummary[] = [];
    const seen: { poolSize?: number } = {};
    for (const w of workloads) scenarios.push(await measureWorkload(w, runId, generator, opts, seen));

    const report: AuditReport = {
      startedAt,
      machine: host,
      options: {
        scale: opts.skipLoad ? null : opts.scale,
        connections: opts.connections,
        durationS: opts.duration,
        warmupS: opts.warmup,
        rounds: opts.rounds,
        seed: opts.seed,
        gatewayPoolSize: seen.poolSize ?? NaN,
        paramPool: opts.params,
        audit: {
          flushIntervalMs: opts.flushInterval ?? DEFAULT_AUDIT_OPTIONS.flushIntervalMs,
          maxBatch: opts.maxBatch ?? DEFAULT_AUDIT_OPTIONS.maxBatch,
          maxPending: DEFAULT_AUDIT_OPTIONS.maxPending,
        },
      },
      database: where,
      ...(writesUrl !== null ? { writesDatabase: new URL(writesUrl).pathname.slice(1) } : {}),
      backgroundLoadCores: background,
      dataset: { counts, load },
      target: { ratio: AUDIT_RATIO_TARGET },
      scenarios,
    };
    process.stdout.write(formatAuditReport(report));
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    fs.writeFileSync(opts.out, JSON.stringify(report, null, 2) + '\n');
    say(`wrote ${path.relative(process.cwd(), opts.out)}`);

    const bad = scenarios.filter((s) => s.status !== 'ok' || s.everyRequestAudited === false);
    if (bad.length > 0) {
      say(`did not run clean, or not every request was audited: ${bad.map((s) => s.name).join(', ')}`);
      return 1;
    }
    const missed = scenarios.filter((s) => s.meetsTarget === false);
    if (missed.length > 0) {
      say(`throughput with the audit on below ${pct(AUDIT_RATIO_TARGET)} of off: ${missed.map((s) => `${s.name} ${pct(s.ratio)}`).join(', ')}`);
      return 3;
    }
    return 0;
  } finally {
    await generator.close();
    await pool.end();
    if (writesPool && writesPool !== pool) await writesPool.end();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:audit: failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
