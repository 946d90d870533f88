import fs from 'node:fs';
import crypto from 'node:crypto';
import { Client } from 'pg';
import type { DatabaseConfig } from '../../src/config';
import { openDatabase, type Database } from '../../src/db/datasource';
import { ENV, testBackend, withDatabase } from './env';

export { testBackend } from './env';

export interface TestDatabase extends Database {
  /** How to open another, independent connection pool to the same database (e.g. a second "process"). */
  readonly config: DatabaseConfig;
}

/**
 * A fresh, migrated database of the backend under test, private to the caller: a clone of the
 * run's PGlite snapshot, or a new database created from the run's template on the server.
 * close() releases it (and drops the server database).
 */
export async function openTestDatabase(opts: { poolSize?: number } = {}): Promise<TestDatabase> {
  const backend = testBackend();
  if (backend === 'embedded') {
    const snapshot = process.env[ENV.snapshot];
    if (!snapshot) throw new Error('global-setup did not prepare a PGlite snapshot');
    const config: DatabaseConfig = { kind: 'embedded', dataDir: null };
    const db = await openDatabase(config, { ...opts, loadDataDir: new Blob([fs.readFileSync(snapshot)]) });
    return { ...db, config };
  }

  const serverUrl = process.env.TEST_DATABASE_URL!;
  const name = `medilens_t_${process.env[ENV.runId]}_${crypto.randomBytes(4).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name} TEMPLATE ${process.env[ENV.template]}`);
  const url = withDatabase(serverUrl, name);
  const config: DatabaseConfig =
    backend === 'neon' ? { kind: 'neon', url, wsProxy: process.env[ENV.neonProxy]! } : { kind: 'postgres', url };
  const db = await openDatabase(config, opts);
  return {
    ...db,
    config,
    async close() {
      await db.close();
      await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** One statement on the server as the test superuser (CREATE/DROP DATABASE, roles, grants). */
export async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  // Two workers cloning the same template at the same instant can collide; one retry settles it.
  for (let attempt = 0; ; attempt++) {
    const client = new Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
      return;
    } catch (err) {
      if (attempt >= 3 || !/being accessed by other users/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    } finally {
      await client.end();
    }
  }
}

export interface ScratchDatabase {
  /** Environment that points a child process (the gateway, the CLI) at this database. */
  readonly env: Record<string, string>;
  /** How this process can open the same database once the child is done with it. */
  readonly config: DatabaseConfig;
  drop(): Promise<void>;
}

/**
 * An empty database for a child process of the backend under test: a fresh DATA_DIR, or a new database
 * on the server (unmigrated: the child migrates it, as it would in production).
 */
export async function createScratchDatabase(): Promise<ScratchDatabase> {
  const backend = testBackend();
  if (backend === 'embedded') {
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'medilens-scratch-'));
    return {
      env: { DATA_DIR: dir },
      config: { kind: 'embedded', dataDir: dir },
      drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const serverUrl = process.env.TEST_DATABASE_URL!;
  const name = `medilens_t_${process.env[ENV.runId]}_${crypto.randomBytes(4).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
  const url = withDatabase(serverUrl, name);
  const neon = backend === 'neon';
  return {
    env: neon
      ? { DATABASE_URL: url, DATABASE_DRIVER: 'neon', NEON_WS_PROXY: process.env[ENV.neonProxy]! }
      : { DATABASE_URL: url, DATABASE_DRIVER: 'pg' },
    config: neon ? { kind: 'neon', url, wsProxy: process.env[ENV.neonProxy]! } : { kind: 'postgres', url },
    drop: () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
