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
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Pool } from 'pg';
import { ConfigError, loadConfig } from '../src/config';
import { openDatabase } from '../src/db/datasource';
import { startProgress, type Progress } from '../src/cli/progress';
import { countRows, loadDataset, targetsFor, type Counts, type LoadReport } from './dataset';
import { startGateway, type Gateway } from './gateway';
import { LoadGenerator } from './http-load';
import type { AutocannonResult, Failures, WalkResult } from './load-worker';
import { backgroundLoad, measureCpu, waitQuiet } from './cpu';
import { explainStatements } from './explain';
import { pickParams, type Params } from './params';
import { profiled } from './profile';
import { rawPool, runRaw } from './raw';
import { formatReport, RATIO_TARGET, type BenchReport, type Machine, type ScenarioResult } from './report';
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

/** Access tokens live 300 s; a scenario's gateway part must end well within one. */
const TOKEN_BUDGET_S = 270;

function positive(name: string, integer: boolean) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${name} must be a positive ${integer ? 'integer' : 'number'}`);
    }
    return n;
  };
}

function scenarioList(raw: string): ScenarioName[] {
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(SCENARIO_NAMES as readonly string[]).includes(n)) {
      throw new InvalidArgumentError(`unknown scenario "${n}"; choose from ${SCENARIO_NAMES.join(', ')}`);
    }
  }
  return names as ScenarioName[];
}

function program(): Command {
  return new Command('bench')
    .description('Load a dataset into DATABASE_URL and measure the gateway against raw pg (not part of npm test)')
    .addOption(new Option('--scale <n>', 'dataset size: 10k patients / 100k assessments / 1M biomarker values times n (fractions allowed)').argParser(positive('--scale', false)).default(1))
    .addOption(new Option('--connections <n>', 'concurrent HTTP connections, and the raw pg pool size').argParser(positive('--connections', true)).default(16))
    .addOption(new Option('--duration <s>', 'seconds of measurement per scenario and side').argParser(positive('--duration', false)).default(15))
    .addOption(new Option('--warmup <s>', 'seconds of unmeasured load before each measurement').argParser((v) => (v === '0' ? 0 : positive('--warmup', false)(v))).default(3))
    .option('--skip-load', 'do not load or check the dataset; use the database as it is', false)
    .option('--load-only', 'load the dataset, then stop', false)
    .addOption(new Option('--only <scenarios>', `comma-separated subset of: ${SCENARIO_NAMES.join(', ')}`).argParser(scenarioList))
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

function say(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** A phase line on stderr, and a cli-progress bar while it runs (terminals only, after a second). */
function loadHooks() {
  let bar: Progress | null = null;
  return {
    phase(label: string, unit: string) {
      say(`${label} ...`);
      bar = startProgress(label, unit);
    },
    progress(done: number, total: number) {
      bar?.update(done, total);
    },
    done(message: string) {
      bar?.stop();
      bar = null;
      say(message);
    },
  };
}

async function machine(pool: Pool): Promise<Machine> {
  const cpus = os.cpus();
  const { rows } = await pool.query<{ name: string; setting: string; unit: string | null }>(
    `SELECT name, setting, unit FROM pg_settings WHERE name IN ('server_version', 'shared_buffers', 'work_mem', 'jit', 'max_connections')`,
  );
  const get = (n: string) => rows.find((r) => r.name === n);
  const settings: Record<string, string> = {};
  for (const r of rows) {
    if (r.name === 'server_version') continue;
    settings[r.name] = r.unit === '8kB' ? `${(Number(r.setting) * 8) / 1024}MB` : r.unit === 'kB' ? `${Number(r.setting) / 1024}MB` : r.setting;
  }
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    totalMemoryGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    postgres: get('server_version')?.setting ?? 'unknown',
    postgresSettings: settings,
  };
}

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

function describeFailures(f: Failures): string {
  const statuses = Object.entries(f.statuses)
    .filter(([s]) => s !== '200')
    .map(([s, n]) => `${n} x HTTP ${s}`);
  return [
    f.non2xx > 0 ? `${f.non2xx} non-2xx responses (${statuses.join(', ')})` : '',
    f.mismatches > 0 ? `${f.mismatches} 200 responses that were not the expected resource` : '',
    f.errors > 0 ? `${f.errors} socket errors/timeouts` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

interface BundleLike {
  resourceType?: string;
  entry?: { resource?: { resourceType?: string; id?: string }; search?: { mode?: string } }[];
  issue?: { code?: string; diagnostics?: string }[];
}

/**
 * One request per sample before any load: an endpoint that is not there (yet) says so in one line
 * (the returned problem). Where the scenario knows its answer, the Bundle is also compared with the same
 * query on the views, so that the ratio compares equal work (differences are returned as warnings).
 */
async function preflight(
  gw: Gateway,
  token: string,
  scenario: Scenario,
  paths: string[],
  params: Params,
  pool: Pool,
): Promise<{ problem: string | null; warnings: string[] }> {
  const warnings: string[] = [];
  for (let i = 0; i < Math.min(5, paths.length); i++) {
    const p = paths[i];
    const res = await fetch(`${gw.base}${p}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json' } });
    const text = await res.text();
    let body: BundleLike = {};
    try {
      body = JSON.parse(text);
    } catch {
      // reported below
    }
    if (res.status !== 200 || body.resourceType !== scenario.expect) {
      const why =
        body.resourceType === 'OperationOutcome'
          ? (body.issue ?? []).map((x) => `${x.code}: ${x.diagnostics}`).join('; ')
          : text.slice(0, 300);
      return { problem: `GET ${p} answered HTTP ${res.status}${res.status === 200 ? ` with a ${body.resourceType ?? 'non-JSON body'}` : ''}: ${why}`, warnings };
    }
    if (scenario.expected) {
      const client = await pool.connect();
      let expected: { match: string[]; include?: string[] };
      try {
        expected = await scenario.expected(params, i, client);
      } finally {
        client.release();
      }
      const entries = body.entry ?? [];
      const got = (mode: string) => entries.filter((e) => (e.search?.mode ?? 'match') === mode).map((e) => e.resource?.id ?? '');
      const compare = (what: string, want: string[], have: string[]) => {
        const w = new Set(want);
        const h = new Set(have);
        const missing = want.filter((x) => !h.has(x)).length;
        const extra = have.filter((x) => !w.has(x)).length;
        if (missing + extra > 0) {
          warnings.push(`GET ${p}: ${what}: gateway ${have.length}, views ${want.length} (${missing} missing, ${extra} not expected)`);
        }
      };
      compare('matches', expected.match, got('match'));
      if (expected.include) compare('included', [...new Set(expected.include)], got('include'));
    }
  }
  return { problem: null, warnings };
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

  const url = process.env.DATABASE_URL?.trim();
  if (!url) {
    process.stderr.write(
      'bench: DATABASE_URL is not set. The benchmark loads about 2 million rows (at --scale 1) into a Postgres server\n' +
        'and never uses the embedded database. For example:\n' +
        "  psql -h 127.0.0.1 -U postgres -c 'create database bench'\n" +
        '  DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench npm run bench\n',
    );
    return 2;
  }
  if (process.env.DATABASE_DRIVER && process.env.DATABASE_DRIVER !== 'pg') {
    process.stderr.write('bench: only DATABASE_DRIVER=pg is supported (the raw floor is measured through pg)\n');
    return 2;
  }
  try {
    loadConfig({ ...process.env, PORT: '0' });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`bench: configuration error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (opts.warmup + opts.duration > TOKEN_BUDGET_S) {
    process.stderr.write(`bench: --warmup + --duration must stay under ${TOKEN_BUDGET_S} s (one access token per scenario lives 300 s)\n`);
    return 2;
  }
  const database = new URL(url);
  opts.databaseName = decodeURIComponent(database.pathname.replace(/^\//, '')) || undefined;
  const where = `${database.hostname}:${database.port || 5432}${database.pathname}`;
  const targets = targetsFor(opts.scale);
  const startedAt = new Date().toISOString();

  // 1. The dataset.
  let load: LoadReport | null = null;
  let counts: Counts;
  {
    const db = await openDatabase({ kind: 'postgres', url }, { poolSize: 4 });
    try {
      if (opts.skipLoad) {
        counts = await countRows(db.dataSource);
        say(`--skip-load: ${counts.patients} patients, ${counts.assessments} assessments, ${counts.biomarkerValues} biomarker values in ${where}`);
      } else {
        say(
          `dataset target (scale ${opts.scale}): ${targets.patients} patients, ${targets.assessments} assessments, ` +
            `${targets.biomarkerValues} biomarker values in ${where}`,
        );
        load = await loadDataset(db.dataSource, targets, opts.seed, loadHooks());
        counts = load.after;
        say(
          load.skipped
            ? `dataset already loaded (${counts.patients} patients, ${counts.assessments} assessments, ${counts.biomarkerValues} biomarker values): skipped`
            : `dataset loaded in ${(load.elapsedMs / 1000).toFixed(1)} s: ${counts.patients} patients, ${counts.assessments} assessments, ${counts.biomarkerValues} biomarker values`,
        );
      }
    } finally {
      await db.close();
    }
  }

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
