/**
 * `npm run bench`: loads a dataset into the Postgres server at DATABASE_URL (10k patients, 100k
 * assessments, 1M biomarker values per unit of --scale), starts the gateway in this process and drives
 * it over HTTP with autocannon (in a worker thread) for each scenario, then runs the same queries
 * straight through pg as the floor. Prints a table and writes bench/results/latest.json.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import type { Pool } from 'pg';
import {
  benchDatabase,
  describeFailures,
  machine,
  positive,
  preflight,
  prepareDataset,
  sayAs,
  scenarioList,
  TOKEN_BUDGET_S,
  warmupSeconds,
} from './common';
import { targetsFor } from './dataset';
import { startGateway, type Gateway } from './gateway';
import { LoadGenerator } from './http-load';
import type { AutocannonResult, WalkResult } from './load-worker';
import { backgroundLoad, measureCpu, waitQuiet } from './cpu';
import { explainStatements } from './explain';
import { pickParams, type Params } from './params';
import { profiled } from './profile';
import { rawPool, runRaw } from './raw';
import { formatReport, RATIO_TARGET, type BenchReport, type ScenarioResult } from './report';
import { SCENARIO_NAMES, SCENARIOS, WALK_PAGE_SIZE, WALK_PAGES, type Scenario, type ScenarioName } from './scenarios';
import { summarize } from './stats';

interface Options {
  scale: number;
  connections: number;
  duration: number;
  warmup: number;
  skipLoad: boolean;
  loadOnly: boolean;
  only?: ScenarioName[];
  seed: number;
  params: number;
  gatewayPool?: number;
  raw: boolean;
  explain: boolean;
  profile: boolean;
  waitQuiet: number;
  out: string;
  /** From DATABASE_URL (not a flag). */
  databaseName?: string;
}

function program(): Command {
  return new Command('bench')
    .description('Load a dataset into DATABASE_URL and measure the gateway against raw pg (not part of npm test)')
    .addOption(new Option('--scale <n>', 'dataset size: 10k patients / 100k assessments / 1M biomarker values times n (fractions allowed)').argParser(positive('--scale', false)).default(1))
    .addOption(new Option('--connections <n>', 'concurrent HTTP connections, and the raw pg pool size').argParser(positive('--connections', true)).default(16))
    .addOption(new Option('--duration <s>', 'seconds of measurement per scenario and side').argParser(positive('--duration', false)).default(15))
    .addOption(new Option('--warmup <s>', 'seconds of unmeasured load before each measurement').argParser(warmupSeconds).default(3))
    .option('--skip-load', 'do not load or check the dataset; use the database as it is', false)
    .option('--load-only', 'load the dataset, then stop', false)
    .addOption(new Option('--only <scenarios>', `comma-separated subset of: ${SCENARIO_NAMES.join(', ')}`).argParser(scenarioList(SCENARIO_NAMES)))
    .addOption(new Option('--seed <n>', 'demo data seed, and the salt that picks request parameters').argParser((v) => Number(v)).default(42))
    .addOption(new Option('--params <n>', 'patients to draw request parameters from').argParser(positive('--params', true)).default(500))
    .addOption(new Option('--gateway-pool <n>', "the gateway's database pool (default: DB_POOL_SIZE, else the gateway's default of 10)").argParser(positive('--gateway-pool', true)))
    .option('--no-raw', 'skip the raw pg floor')
    .option('--no-explain', "skip replaying the gateway's statements under EXPLAIN ANALYZE after each scenario")
    .option('--profile', "CPU-profile the gateway's thread during each measurement (bench/results/<scenario>.cpuprofile)", false)
    .addOption(
      new Option('--wait-quiet <s>', 'before each measurement, wait up to this long for other work on the machine to stop (0: do not wait)')
        .argParser((v) => Number(v))
        .default(0),
    )
    .option('--out <file>', 'where to write the JSON results', path.join(__dirname, 'results', 'latest.json'));
}

const say = sayAs('bench');

function shuffled<T>(items: T[], seed: number): T[] {
  const out = items.slice();
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function quiet(maxS: number): Promise<number> {
  const load = await waitQuiet(maxS);
  if (load >= 0.25) say(`WARNING: the machine is still busy with ${load.toFixed(2)} cores of other work; measuring anyway`);
  return load;
}

async function runScenario(
  scenario: Scenario,
  gw: Gateway,
  load: LoadGenerator,
  pool: Pool,
  params: Params,
  opts: Options,
): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    name: scenario.name,
    title: scenario.title,
    request: scenario.request,
    kind: scenario.kind,
    targetP95Ms: scenario.targetP95,
    status: 'ok',
  };
  const paths = scenario.paths(params, gw.config.canonicalBase);
  if (paths.length === 0) {
    result.status = 'unavailable';
    result.problem = 'no request parameters could be drawn from the data (is the dataset loaded?)';
    return result;
  }
  say(`${scenario.name}: ${scenario.request}`);
  const token = await gw.token();
  const check = await preflight(gw, token, scenario, paths, params, pool);
  const refused = check.problem;
  if (check.warnings.length > 0) {
    result.equivalence = check.warnings;
    for (const w of check.warnings) say(`${scenario.name}: WARNING, not the same answer as the views: ${w}`);
  }
  if (refused) {
    result.status = 'unavailable';
    result.problem = refused;
    say(`${scenario.name}: gateway UNAVAILABLE: ${refused}`);
  } else {
    const base = gw.base;
    const job = (durationS: number): Promise<AutocannonResult | WalkResult> =>
      scenario.kind === 'walk'
        ? load.run({ kind: 'walk', base, token, starts: shuffled(paths, opts.seed), pages: WALK_PAGES, connections: opts.connections, durationS })
        : load.run({ kind: 'autocannon', base, token, paths, connections: opts.connections, durationS, expect: scenario.expect });
    if (opts.waitQuiet > 0) result.backgroundLoadCores = await quiet(opts.waitQuiet);
    if (opts.warmup > 0) await job(opts.warmup);
    gw.resetTrace();
    const errorsBefore = gw.log.errors;
    const measured = () => measureCpu(os.cpus().length, opts.databaseName, () => job(opts.duration));
    let run: Awaited<ReturnType<typeof measured>>;
    if (opts.profile) {
      const file = path.join(path.dirname(opts.out), `${scenario.name}.cpuprofile`);
      const p = await profiled(file, measured);
      run = p.result;
      result.profile = p.summary;
    } else {
      run = await measured();
    }
    const res = run.result;
    const statements = gw.statements();
    if (res.kind === 'walk') {
      const all = res.pageLatencies.flatMap((p) => Array.from(p));
      result.gateway = {
        reqPerS: all.length / res.elapsedS,
        latency: summarize(all),
        elapsedS: res.elapsedS,
        walksPerS: res.walkLatencies.length / res.elapsedS,
        pages: res.pageLatencies.map((p) => summarize(p)),
        shortWalks: res.shortWalks,
        failures: res.failures,
        cpu: run.cpu,
      };
    } else {
      result.gateway = {
        reqPerS: res.latencies.length / res.elapsedS,
        latency: summarize(res.latencies),
        elapsedS: res.elapsedS,
        failures: res.failures,
        cpu: run.cpu,
      };
    }
    const f = result.gateway.failures;
    if (f.non2xx + f.mismatches + f.errors > 0) {
      result.status = 'failed';
      result.problem = describeFailures(f);
      say(`${scenario.name}: FAILED: ${result.problem}`);
    }
    if (gw.log.errors > errorsBefore) {
      result.problem = `${result.problem ? `${result.problem}; ` : ''}gateway logged ${gw.log.errors - errorsBefore} errors`;
    }
    const requests = res.kind === 'walk' ? res.pageLatencies.reduce((n, p) => n + p.length, 0) : res.latencies.length;
    result.statements = opts.explain
      ? await explainStatements(pool, statements, requests)
      : statements.map((st) => ({ sql: st.sql, perRequest: st.count / Math.max(1, requests), roundTripMs: st.totalMs / st.count }));
    result.gateway.cpuMsPerRequest = requests > 0 ? (run.cpu.mainThread * res.elapsedS * 1000) / requests : undefined;
    say(
      `${scenario.name}: gateway ${result.gateway.reqPerS.toFixed(0)} req/s, p50 ${result.gateway.latency.p50.toFixed(1)} ms, ` +
        `p95 ${result.gateway.latency.p95.toFixed(1)} ms, p99 ${result.gateway.latency.p99.toFixed(1)} ms`,
    );
  }

  if (opts.raw) {
    const unit = scenario.raw(params);
    if (opts.waitQuiet > 0) await quiet(opts.waitQuiet);
    if (opts.warmup > 0) await runRaw(pool, opts.connections, Math.min(opts.warmup, 2), unit);
    const { result: raw, cpu } = await measureCpu(os.cpus().length, opts.databaseName, () => runRaw(pool, opts.connections, opts.duration, unit));
    if (scenario.kind === 'walk') {
      const pages = [...raw.extra.entries()].sort((a, b) => Number(a[0].split(' ')[1]) - Number(b[0].split(' ')[1]));
      const all = pages.flatMap(([, v]) => Array.from(v));
      result.raw = {
        reqPerS: all.length / raw.elapsedS,
        latency: summarize(all),
        elapsedS: raw.elapsedS,
        walksPerS: raw.latencies.length / raw.elapsedS,
        pages: pages.map(([, v]) => summarize(v)),
        errors: raw.errors,
        samples: raw.samples,
        cpu,
      };
    } else {
      result.raw = {
        reqPerS: raw.latencies.length / raw.elapsedS,
        latency: summarize(raw.latencies),
        elapsedS: raw.elapsedS,
        errors: raw.errors,
        samples: raw.samples,
        cpu,
      };
    }
    if (raw.errors > 0) say(`${scenario.name}: raw pg errors: ${raw.samples.join(' | ')}`);
    say(`${scenario.name}: raw pg ${result.raw.reqPerS.toFixed(0)} req/s, p95 ${result.raw.latency.p95.toFixed(1)} ms`);
  }

  if (result.gateway && result.raw) result.ratio = result.gateway.reqPerS / result.raw.reqPerS;
  if (result.gateway) {
    result.meetsP95 = result.gateway.latency.p95 < scenario.targetP95;
    if (result.ratio !== undefined) result.meetsRatio = result.ratio >= RATIO_TARGET;
  }
  return result;
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

  const database = benchDatabase('bench');
  if (database === 2) return 2;
  const { url, where } = database;
  if (opts.warmup + opts.duration > TOKEN_BUDGET_S) {
    process.stderr.write(`bench: --warmup + --duration must stay under ${TOKEN_BUDGET_S} s (one access token per scenario lives 300 s)\n`);
    return 2;
  }
  opts.databaseName = database.databaseName;
  const targets = targetsFor(opts.scale);
  const startedAt = new Date().toISOString();

  // 1. The dataset.
  const { counts, load } = await prepareDataset(url, where, opts, say);

  if (opts.loadOnly) return 0;

  // 2. Request parameters and the machine.
  const pool = rawPool(url, opts.connections);
  let gw: Gateway | null = null;
  const generator = new LoadGenerator();
  try {
    const params = await pickParams(pool, opts.params, opts.seed, WALK_PAGES, WALK_PAGE_SIZE);
    say(
      `parameters: ${params.patients.length} patients, ${params.observations.length} observation searches, ` +
        `${params.reports.length} report searches, ${params.walks.length} walk patients (>= ${params.walkMin} observations)`,
    );
    const host = await machine(pool);

    // 3. The gateway, in this process.
    gw = await startGateway({ databaseUrl: url, poolSize: opts.gatewayPool, logLevel: 'warn' });
    say(`gateway listening on ${gw.base} (pool ${gw.config.dbPoolSize})`);

    const background = await backgroundLoad();
    if (background > 0.25) say(`WARNING: the machine is busy with ${background.toFixed(2)} cores of other work; results will be low`);
    const selected = SCENARIOS.filter((s) => !opts.only || opts.only.includes(s.name));
    const results: ScenarioResult[] = [];
    for (const scenario of selected) results.push(await runScenario(scenario, gw, generator, pool, params, opts));

    const report: BenchReport = {
      startedAt,
      machine: host,
      options: {
        scale: opts.skipLoad ? null : opts.scale,
        connections: opts.connections,
        durationS: opts.duration,
        warmupS: opts.warmup,
        seed: opts.seed,
        gatewayPoolSize: gw.config.dbPoolSize,
        rawPoolSize: opts.connections,
        paramPool: opts.params,
      },
      database: where,
      backgroundLoadCores: background,
      dataset: { targets, counts, load },
      params: {
        patients: params.patients.length,
        observations: params.observations.length,
        reports: params.reports.length,
        walks: params.walks.length,
        walkMinObservations: params.walkMin,
      },
      scenarios: results,
      gatewayLog: gw.log,
      targets: { readP95Ms: 10, searchP95Ms: 25, ratio: RATIO_TARGET },
    };
    process.stdout.write(formatReport(report));
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    fs.writeFileSync(opts.out, JSON.stringify(report, null, 2) + '\n');
    say(`wrote ${path.relative(process.cwd(), opts.out)}`);

    const bad = results.filter((r) => r.status !== 'ok');
    if (bad.length > 0) {
      say(`${bad.length} scenario(s) did not run clean: ${bad.map((r) => `${r.name} (${r.status})`).join(', ')}`);
      return 1;
    }
    return 0;
  } finally {
    await generator.close();
    if (gw) await gw.stop();
    await pool.end();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
