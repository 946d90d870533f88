import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { Client } from 'pg';
import { openDatabase } from '../../src/db/datasource';
import { migrate } from '../../src/db/migrate';
import { ENV, testBackend, withDatabase } from './env';
import { startWsProxy, type WsProxy } from './ws-proxy';

declare global {
  // Handed from global-setup to global-teardown (same process).
  var __medilensWsProxy: WsProxy | undefined;
}

/**
 * Prepares one migrated database per run that every test file clones: a PGlite data-directory dump
 * (loading one takes ~1 s, a fresh init + migrations ~5 s), or a template database on the server
 * (CREATE DATABASE ... TEMPLATE takes a fraction of a second).
 */
export default async function globalSetup(): Promise<void> {
  const runId = `${Date.now().toString(36)}${crypto.randomBytes(3).toString('hex')}`;
  process.env[ENV.runId] = runId;
  const backend = testBackend();
  if (backend === 'embedded') {
    const db = await openDatabase({ kind: 'embedded', dataDir: null });
    try {
      await migrate(db.dataSource);
      const dump = await db.dumpDataDir!();
      const file = path.join(os.tmpdir(), `medilens-test-${runId}.tar`);
      fs.writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
      process.env[ENV.snapshot] = file;
    } finally {
      await db.close();
    }
    return;
  }

  const serverUrl = process.env.TEST_DATABASE_URL!;
  const template = `medilens_tpl_${runId}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${template}`);
  } finally {
    await admin.end();
  }
  const db = await openDatabase({ kind: 'postgres', url: withDatabase(serverUrl, template) });
  try {
    await migrate(db.dataSource);
  } finally {
    await db.close();
  }
  process.env[ENV.template] = template;
  if (backend === 'neon') {
    globalThis.__medilensWsProxy = await startWsProxy();
    process.env[ENV.neonProxy] = globalThis.__medilensWsProxy.address;
  }
}
