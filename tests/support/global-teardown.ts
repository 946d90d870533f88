import fs from 'node:fs';
import { Client } from 'pg';
import { ENV, testBackend } from './env';

export default async function globalTeardown(): Promise<void> {
  const snapshot = process.env[ENV.snapshot];
  if (snapshot) fs.rmSync(snapshot, { force: true });
  await globalThis.__medilensWsProxy?.close();
  if (testBackend() === 'embedded') return;
  // Drop the template and anything a crashed worker left behind from this run.
  const runId = process.env[ENV.runId]!;
  const admin = new Client({ connectionString: process.env.TEST_DATABASE_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2`,
      [`medilens_t_${runId}_%`, `medilens_tpl_${runId}`],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
