import request from 'supertest';
import type { Patient } from 'fhir/r4';
import { migrations } from '../migrations';
import { ensureDemoClient } from '../src/demo/client';
import { testApp, tokenRequest } from './support/auth';
import crypto from 'node:crypto';
import { openDatabase, type Database } from '../src/db/datasource';
import { migrate } from '../src/db/migrate';
import { withDbContext } from '../src/db/context';
import { seedReferenceData } from '../src/db/seed';
import { generateDemoData } from '../src/demo/generator';
import { refreshAnalytics } from '../src/analytics/refresh';
import { adminQuery, testBackend } from './support/database';
import { ENV, withDatabase } from './support/env';

/**
 * The deployment shape of Neon and of a careful server: the gateway connects as the schema owner, who is
 * not a superuser and has no BYPASSRLS. FORCE ROW LEVEL SECURITY must hold that owner to the policies,
 * and everything the gateway and the CLI do must still work. (PGlite has a single superuser session.)
 */
const serverOnly = testBackend() === 'embedded' ? describe.skip : describe;

serverOnly(`a non-superuser schema owner (${testBackend()})`, () => {
  const serverUrl = process.env.TEST_DATABASE_URL!;
  const suffix = crypto.randomBytes(4).toString('hex');
  const owner = `medilens_owner_${suffix}`;
  const database = `medilens_owner_db_${suffix}`;
  let db: Database;

  const admin = async (...statements: string[]) => {
    for (const sql of statements) await adminQuery(serverUrl, sql);
  };

  beforeAll(async () => {
    // The application role is cluster-wide and exists already (global setup migrated a template).
    await admin(
      `CREATE ROLE ${owner} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE`,
      `CREATE DATABASE ${database} OWNER ${owner}`,
      `GRANT medilens_app TO ${owner}`,
    );
    await adminQuery(withDatabase(serverUrl, database), `ALTER SCHEMA public OWNER TO ${owner}`);
    const url = new URL(withDatabase(serverUrl, database));
    url.username = owner;
    url.password = '';
    const cfg = testBackend() === 'neon'
      ? { kind: 'neon' as const, url: url.toString(), wsProxy: process.env[ENV.neonProxy]! }
      : { kind: 'postgres' as const, url: url.toString() };
    db = await openDatabase(cfg);
  });
  afterAll(async () => {
    await db?.close();
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`, `DROP ROLE IF EXISTS ${owner}`);
  });

  it('migrates, seeds, writes demo data and refreshes analytics, and is itself confined by the policies', async () => {
    const [{ rolsuper, rolbypassrls }] = await db.dataSource.query(
      `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`,
    );
    expect({ rolsuper, rolbypassrls }).toEqual({ rolsuper: false, rolbypassrls: false });

    expect(await migrate(db.dataSource)).toHaveLength(migrations.length);
    expect(await seedReferenceData(db.dataSource)).toEqual({ roles: 4, models: 6 });
    const demo = await generateDemoData(db.dataSource, { patients: 6, assessmentsPerPatient: 3, seed: 11, organizations: 2 });
    expect(demo.assessments).toBe(18);
    const refreshed = await refreshAnalytics(db.dataSource, { asOf: '2025-12-31' });
    expect(refreshed.cohortRows).toBeGreaterThan(0);
    expect(refreshed.dailyMetrics).toBeGreaterThan(0);

    // The owner without an identity sees nothing: FORCE ROW LEVEL SECURITY applies to it.
    const [bare] = await db.dataSource.query(
      `SELECT (SELECT count(*)::int FROM assessments) AS assessments, (SELECT count(*)::int FROM users) AS users,
              (SELECT count(*)::int FROM daily_metrics) AS daily_metrics`,
    );
    expect(bare).toEqual({ assessments: 0, users: 0, daily_metrics: 0 });

    // A request context for one organization sees exactly that organization's assessments.
    const [orgA] = demo.organizationIds;
    const rows: { organization_id: string }[] = await withDbContext(
      db.dataSource,
      { organizationId: orgA, role: 'clinician' },
      (tx) => tx.query(`SELECT organization_id FROM assessments`),
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.organization_id))).toEqual(new Set([orgA]));
  });

  it('serves the SMART flow as that owner: the demo client gets a token and reads only its organization', async () => {
    const client = await ensureDemoClient(db.dataSource);
    expect(client).not.toBeNull();
    const app = testApp(db);
    const res = await tokenRequest(app, { grant_type: 'client_credentials', scope: client!.scope }, [client!.clientId, client!.secret]);
    expect(res.status).toBe(200);
    const patient = await request(app).get(`/fhir/Patient/${client!.patientId}`).auth(res.body.access_token, { type: 'bearer' }).expect(200);
    expect(patient.body.id).toBe(client!.patientId);
    const found = await request(app).get('/fhir/Patient?_count=100').auth(res.body.access_token, { type: 'bearer' }).expect(200);
    const orgs = new Set(found.body.entry.map((e: { resource: Patient }) => e.resource.managingOrganization?.reference));
    expect(orgs).toEqual(new Set([patient.body.managingOrganization.reference]));
  });
});
