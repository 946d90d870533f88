import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { migrations } from '../migrations';
import { ENV, testBackend, withDatabase } from './support/env';

/**
 * The real command line as a child process, against the backend under test: a fresh embedded data
 * directory, or a scratch database of its own on the server (plain pg or the Neon driver via the proxy).
 */

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const ROOT = path.resolve(__dirname, '..');
const TS_NODE = path.join(ROOT, 'node_modules', '.bin', 'ts-node');

let databaseEnv: Record<string, string> = {};
let cleanup: () => Promise<void> = async () => undefined;

function cli(args: string[], env: Record<string, string> = databaseEnv): Promise<Run> {
  const base: NodeJS.ProcessEnv = { ...process.env, CI: '1' };
  for (const name of ['DATABASE_URL', 'DATABASE_DRIVER', 'DATA_DIR', 'NEON_WS_PROXY']) delete base[name];
  return new Promise((resolve) => {
    execFile(
      TS_NODE,
      ['--transpile-only', 'src/cli/index.ts', ...args],
      { cwd: ROOT, env: { ...base, ...env }, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Exactly one line of output. */
function oneLine(text: string): string {
  const lines = text.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0];
}

function expectNoStackTrace(text: string): void {
  expect(text).not.toMatch(/^\s+at /m);
  expect(text).not.toMatch(/\.ts:\d+/);
}

beforeAll(async () => {
  const backend = testBackend();
  if (backend === 'embedded') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'medilens-cli-'));
    databaseEnv = { DATA_DIR: dir };
    cleanup = async () => fs.rmSync(dir, { recursive: true, force: true });
    return;
  }
  const serverUrl = process.env.TEST_DATABASE_URL!;
  const name = `medilens_cli_${process.env[ENV.runId]}_${crypto.randomBytes(3).toString('hex')}`;
  const admin = async (sql: string): Promise<void> => {
    const client = new Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  // demo-data encrypts with the key ring, which a server deployment must be given.
  databaseEnv = { DATABASE_URL: withDatabase(serverUrl, name), PHI_KEYS: `k1:${crypto.randomBytes(32).toString('base64')}` };
  if (backend === 'neon') databaseEnv = { ...databaseEnv, DATABASE_DRIVER: 'neon', NEON_WS_PROXY: process.env[ENV.neonProxy]! };
  cleanup = () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
});
afterAll(() => cleanup());

describe(`the CLI (${testBackend()})`, () => {
  jest.setTimeout(180_000);

  it('migrate applies the migrations, and a second run says the schema is current', async () => {
    const first = await cli(['migrate']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const names = migrations.map((m) => m.name).join(', ');
    expect(oneLine(first.stdout)).toMatch(new RegExp(`^migrate: applied ${migrations.length} migrations in [\\d.]+ s: ${names}$`));

    const second = await cli(['migrate']);
    expect(second.code).toBe(0);
    expect(oneLine(second.stdout)).toMatch(new RegExp(`^migrate: schema is current \\(${migrations.length} migrations already applied\\)`));
  });

  it('seed inserts the reference data once', async () => {
    const first = await cli(['seed']);
    expect(first.code).toBe(0);
    expect(oneLine(first.stdout)).toBe('seed: inserted 4 roles and 6 models (of 4 roles, 6 models)');
    const second = await cli(['seed']);
    expect(second.code).toBe(0);
    expect(oneLine(second.stdout)).toMatch(/^seed: reference data already present .* nothing changed$/);
  });

  it('demo-data writes a small dataset with its rate, and skips it the second time', async () => {
    const first = await cli(['demo-data', '--patients', '3', '--seed', '7']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(oneLine(first.stdout)).toMatch(
      /^demo-data: wrote 1 organization, 1 clinician, 3 patients, 18 assessments and \d+ biomarker values \([\d,]+ rows in all\) in [\d.]+ s: [\d,]+ biomarker rows\/s \(seed 7, 3 patients x 6 assessments\)$/,
    );
    const second = await cli(['demo-data', '--patients', '3', '--seed', '7']);
    expect(second.code).toBe(0);
    expect(oneLine(second.stdout)).toBe('demo-data: the dataset (seed 7, 3 patients x 6 assessments) is already present, nothing written');
  });

  it('refresh-analytics refreshes the view and recomputes the tables', async () => {
    const run = await cli(['refresh-analytics', '--as-of', '2025-12-31', '--period-days', '365']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(oneLine(run.stdout)).toMatch(
      /^refresh-analytics: cohort_analysis_summary [1-9]\d* rows \(refreshed concurrently\), daily_metrics [1-9]\d* rows, user_trends [1-9]\d* rows for 2025-01-01\.\.2025-12-31 in [\d.]+ s$/,
    );
  });

  it('partitions creates the access_logs and audit_events partitions that are missing', async () => {
    const run = await cli(['partitions', '--months', '2']);
    expect(run.code).toBe(0);
    // The migrations already created this month and the next two, for both logs.
    expect(oneLine(run.stdout)).toMatch(
      /^partitions: created 0 access_logs partitions \(\d{4}-\d{2}\.\.\d{4}-\d{2}, 2 already existed\) and 0 audit_events partitions \(2 already existed\)$/,
    );
    const more = await cli(['partitions', '--months', '4']);
    expect(oneLine(more.stdout)).toMatch(/^partitions: created 1 access_logs partition \(.*, 3 already existed\) and 1 audit_events partition \(3 already existed\)$/);
  });

  it('rejects a bad option value with one line naming it', async () => {
    const run = await cli(['demo-data', '--patients', 'abc']);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(oneLine(run.stderr)).toMatch(/--patients.*'abc'.*integer/);
    expectNoStackTrace(run.stderr);
  });

  it('rejects a bad DATABASE_URL with one line naming it', async () => {
    const run = await cli(['migrate'], { DATABASE_URL: 'mysql://x' });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(oneLine(run.stderr)).toBe('error: DATABASE_URL: expected a postgres://user@host:port/database URL, got "mysql://x"');
    expectNoStackTrace(run.stderr);
  });

  it('reports an unreachable database in one line', async () => {
    const run = await cli(['seed'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' });
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toMatch(/^error: cannot reach the database: .*ECONNREFUSED/);
    expectNoStackTrace(run.stderr);
  });
});
