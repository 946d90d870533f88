/**
 * What the benchmark commands share (npm run bench, bench:audit): flag parsers, DATABASE_URL checks, the
 * dataset step (load or --skip-load), the machine description, the pre-load check of a scenario's
 * endpoint, and how a load generator's failures read.
 */
import os from 'node:os';
import { InvalidArgumentError } from 'commander';
import type { Pool } from 'pg';
import { ConfigError, loadConfig } from '../src/config';
import { openDatabase } from '../src/db/datasource';
import { migrate } from '../src/db/migrate';
import { seedReferenceData } from '../src/db/seed';
import { startProgress, type Progress } from '../src/cli/progress';
import { countRows, loadDataset, targetsFor, type Counts, type LoadReport, type LoadHooks } from './dataset';
import type { Gateway } from './gateway';
import type { Failures } from './load-worker';
import type { Params } from './params';
import type { Machine } from './report';
import type { Scenario } from './scenarios';

/** Access tokens live 300 s; a scenario's gateway part must end well within one. */
export const TOKEN_BUDGET_S = 270;

export type Say = (line: string) => void;

/** Progress lines on stderr, prefixed with the command's name. */
export const sayAs =
  (command: string): Say =>
  (line) =>
    process.stderr.write(`${command}: ${line}\n`);

export function positive(name: string, integer: boolean) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${name} must be a positive ${integer ? 'integer' : 'number'}`);
    }
    return n;
  };
}

/** --warmup: 0 or a positive number of seconds. */
export const warmupSeconds = (v: string): number => (v === '0' ? 0 : positive('--warmup', false)(v));

/** A comma-separated list of scenario names, each one of `allowed`. */
export function scenarioList<T extends string>(allowed: readonly T[]) {
  return (raw: string): T[] => {
    const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
    for (const n of names) {
      if (!(allowed as readonly string[]).includes(n)) {
        throw new InvalidArgumentError(`unknown scenario "${n}"; choose from ${allowed.join(', ')}`);
      }
    }
    return names as T[];
  };
}

/** DATABASE_URL as the benchmark needs it (a pg server), or the exit status 2 after saying what is wrong. */
export function benchDatabase(command: string): { url: string; databaseName?: string; where: string } | 2 {
  const url = process.env.DATABASE_URL?.trim();
  if (!url) {
    process.stderr.write(
      `${command}: DATABASE_URL is not set. The benchmark loads about 2 million rows (at --scale 1) into a Postgres server\n` +
        'and never uses the embedded database. For example:\n' +
        "  psql -h 127.0.0.1 -U postgres -c 'create database bench'\n" +
        '  DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench npm run bench\n',
    );
    return 2;
  }
  if (process.env.DATABASE_DRIVER && process.env.DATABASE_DRIVER !== 'pg') {
    process.stderr.write(`${command}: only DATABASE_DRIVER=pg is supported (the raw floor is measured through pg)\n`);
    return 2;
  }
  try {
    loadConfig({ ...process.env, PORT: '0' });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${command}: configuration error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const database = new URL(url);
  return {
    url,
    databaseName: decodeURIComponent(database.pathname.replace(/^\//, '')) || undefined,
    where: `${database.hostname}:${database.port || 5432}${database.pathname}`,
  };
}

/** What the write benchmarks' client may do (registrations, results). */
export const WRITE_SCOPE = 'system/Patient.crus system/DiagnosticReport.crs system/Observation.crs';

/**
 * The write benchmarks' own organization in the database at `url` (migrated, reference data seeded
 * first): what they write is filed under it, nothing else in the database is touched. Returns its id.
 */
export async function writeOrganization(url: string, label: string): Promise<string> {
  const setup = await openDatabase({ kind: 'postgres', url }, { poolSize: 2 });
  try {
    await migrate(setup.dataSource);
    await seedReferenceData(setup.dataSource);
    const [{ id }] = await setup.dataSource.query(`INSERT INTO organizations (name, type) VALUES ($1, 'hospital') RETURNING id`, [
      `${label} ${new Date().toISOString()}`,
    ]);
    return id as string;
  } finally {
    await setup.close();
  }
}

/** A phase line, and a cli-progress bar while it runs (terminals only, after a second). */
export function loadHooks(say: Say): LoadHooks {
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

/**
 * The dataset step: loaded to the targets of --scale (a database that holds them is left alone), or with
 * --skip-load counted as it is. `migrate` also brings a --skip-load database's schema up to date (for
 * measurements that need the latest tables, e.g. the audit trail's).
 */
export async function prepareDataset(
  url: string,
  where: string,
  opts: { scale: number; seed: number; skipLoad: boolean; migrate?: boolean },
  say: Say,
): Promise<{ counts: Counts; load: LoadReport | null }> {
  const targets = targetsFor(opts.scale);
  const db = await openDatabase({ kind: 'postgres', url }, { poolSize: 4 });
  try {
    if (opts.skipLoad) {
      if (opts.migrate) {
        const applied = await migrate(db.dataSource);
        if (applied.length > 0) say(`applied migrations: ${applied.join(', ')}`);
      }
      const counts = await countRows(db.dataSource);
      say(`--skip-load: ${counts.patients} patients, ${counts.assessments} assessments, ${counts.biomarkerValues} biomarker values in ${where}`);
      return { counts, load: null };
    }
    say(
      `dataset target (scale ${opts.scale}): ${targets.patients} patients, ${targets.assessments} assessments, ` +
        `${targets.biomarkerValues} biomarker values in ${where}`,
    );
    const load = await loadDataset(db.dataSource, targets, opts.seed, loadHooks(say));
    const counts = load.after;
    say(
      load.skipped
        ? `dataset already loaded (${counts.patients} patients, ${counts.assessments} assessments, ${counts.biomarkerValues} biomarker values): skipped`
        : `dataset loaded in ${(load.elapsedMs / 1000).toFixed(1)} s: ${counts.patients} patients, ${counts.assessments} assessments, ${counts.biomarkerValues} biomarker values`,
    );
    return { counts, load };
  } finally {
    await db.close();
  }
}

export async function machine(pool: Pool): Promise<Machine> {
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

/** The failures of a load run in one line ('' when there were none). */
export function describeFailures(f: Failures): string {
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

export const failed = (f: Failures): boolean => f.non2xx + f.mismatches + f.errors > 0;

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
export async function preflight(
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
