import crypto from 'node:crypto';
import { openDatabase, type Database } from '../../src/db/datasource';
import { migrate } from '../../src/db/migrate';
import { generateDemoData } from '../../src/demo/generator';
import { PHI_COLUMNS } from '../../src/phi/cipher';
import { rotatePhiKeys } from '../../src/phi/rotate';
import { assertPhiKeysCoverDatabase, storedPhiKeyIds } from '../../src/phi/stored';
import { adminQuery, testBackend } from '../support/database';
import { ENV, withDatabase } from '../support/env';
import { decrypted, rings, type RawProfile } from './helpers';

/**
 * As a non-superuser schema owner (Neon's shape), FORCE ROW LEVEL SECURITY hides every row from a query
 * without an identity: the start-up check and the rotation must still see them all, or they would pass
 * (and rotate) nothing. PGlite has only a superuser, so this runs on a server.
 */
const serverOnly = testBackend() === 'embedded' ? describe.skip : describe;

serverOnly(`PHI keys under a non-superuser schema owner (${testBackend()})`, () => {
  const serverUrl = process.env.TEST_DATABASE_URL!;
  const suffix = crypto.randomBytes(4).toString('hex');
  const owner = `medilens_phi_owner_${suffix}`;
  const database = `medilens_phi_owner_db_${suffix}`;
  let db: Database;

  beforeAll(async () => {
    for (const sql of [`CREATE ROLE ${owner} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE`, `CREATE DATABASE ${database} OWNER ${owner}`, `GRANT medilens_app TO ${owner}`]) {
      await adminQuery(serverUrl, sql);
    }
    await adminQuery(withDatabase(serverUrl, database), `ALTER SCHEMA public OWNER TO ${owner}`);
    const url = new URL(withDatabase(serverUrl, database));
    url.username = owner;
    url.password = '';
    db = await openDatabase(
      testBackend() === 'neon'
        ? { kind: 'neon', url: url.toString(), wsProxy: process.env[ENV.neonProxy]! }
        : { kind: 'postgres', url: url.toString() },
    );
    await migrate(db.dataSource);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await adminQuery(serverUrl, `DROP ROLE IF EXISTS ${owner}`);
  });

  it('sees every stored key id, and rotates every row', async () => {
    const { ring } = rings();
    await generateDemoData(db.dataSource, { patients: 8, assessmentsPerPatient: 1, seed: 3, organizations: 2, phiKeys: ring('k1') });
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM user_profiles`);
    expect(n).toBe(0); // no identity, no rows
    expect(Object.fromEntries(await storedPhiKeyIds(db.dataSource))).toEqual({ k1: 24 });
    await expect(assertPhiKeysCoverDatabase(db.dataSource, ring('k2'))).rejects.toThrow('"k1" (24 fields)');

    const summary = await rotatePhiKeys(db.dataSource, ring('k2', 'k1'), { batchSize: 3 });
    expect(summary).toMatchObject({ rows: 8, byOldKey: { k1: 8 }, left: 0 });
    expect(Object.fromEntries(await storedPhiKeyIds(db.dataSource))).toEqual({ k2: 24 });
    const rows: RawProfile[] = await db.dataSource.transaction(async (tx) => {
      await tx.query(`SELECT set_config('app.user_role', 'system', true), set_config('app.all_orgs', 'on', true)`);
      return tx.query(`SELECT user_id, ${PHI_COLUMNS.map((c) => `${c}::text AS ${c}`).join(', ')} FROM user_profiles`);
    });
    expect(rows).toHaveLength(8);
    for (const row of rows) expect(Object.values(decrypted(ring('k2'), row)).every(Array.isArray)).toBe(true);
  });
});
