import type { EntityManager } from 'typeorm';
import { withDbContext, APP_ROLE, type DbIdentity } from '../src/db/context';
import { openTestDatabase, testBackend, type TestDatabase } from './support/database';
import { insertAssessment, insertBiomarker, insertOrganization, insertUser } from './support/fixtures';

/**
 * Row-level security through the request-scoped context: the database itself confines a request to
 * its organization (and patient compartment), even for queries with no WHERE clause at all.
 */
describe(`row-level security through the request context (${testBackend()})`, () => {
  let db: TestDatabase;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    db = await openTestDatabase();
    const ds = db.dataSource;
    ids.orgA = await insertOrganization(ds, 'Clinic A');
    ids.orgB = await insertOrganization(ds, 'Clinic B');
    ids.clinicianA = await insertUser(ds, ids.orgA, 'Clinician');
    ids.patientA1 = await insertUser(ds, ids.orgA, 'PatientA1');
    ids.patientA2 = await insertUser(ds, ids.orgA, 'PatientA2');
    ids.patientB = await insertUser(ds, ids.orgB, 'PatientB');
    ids.assessmentA1 = await insertAssessment(ds, ids.patientA1, ids.orgA, 'retinal');
    ids.assessmentA2 = await insertAssessment(ds, ids.patientA2, ids.orgA);
    ids.assessmentB = await insertAssessment(ds, ids.patientB, ids.orgB);
    for (const a of [ids.assessmentA1, ids.assessmentA2, ids.assessmentB]) await insertBiomarker(ds, a);
    await ds.query(`INSERT INTO retinal_results (assessment_id, dr_grade) VALUES ($1, 1)`, [ids.assessmentA1]);
    await ds.query(`INSERT INTO user_profiles (user_id, age) VALUES ($1, 40), ($2, 50)`, [ids.patientA1, ids.patientB]);
  });
  afterAll(() => db.close());

  const clinicianOfA = (): DbIdentity => ({ userId: ids.clinicianA, organizationId: ids.orgA, role: 'clinician' });
  const run = <T>(identity: DbIdentity, work: (tx: EntityManager) => Promise<T>) =>
    withDbContext(db.dataSource, identity, work);
  const idsOf = (rows: { id: string }[]) => rows.map((r) => r.id).sort();

  it('runs as the application role, which does not bypass RLS', async () => {
    const [me] = await run(clinicianOfA(), (tx) =>
      tx.query(`SELECT current_user AS role, r.rolbypassrls, r.rolsuper, r.rolcanlogin
                  FROM pg_roles r WHERE r.rolname = current_user`),
    );
    expect(me).toEqual({ role: APP_ROLE, rolbypassrls: false, rolsuper: false, rolcanlogin: false });
  });

  it('a plain SELECT with no WHERE returns only the organization\'s assessments', async () => {
    const rows = await run(clinicianOfA(), (tx) => tx.query(`SELECT * FROM assessments`));
    expect(idsOf(rows)).toEqual([ids.assessmentA1, ids.assessmentA2].sort());
    expect(rows.every((r: { organization_id: string }) => r.organization_id === ids.orgA)).toBe(true);
  });

  it('the same holds for tables that inherit visibility from their parent row', async () => {
    const counts = await run(clinicianOfA(), async (tx) => ({
      biomarkers: (await tx.query(`SELECT DISTINCT organization_id FROM biomarker_values`)).map((r: { organization_id: string }) => r.organization_id),
      retinal: (await tx.query(`SELECT count(*)::int AS n FROM retinal_results`))[0].n,
      profiles: (await tx.query(`SELECT user_id FROM user_profiles`)).map((r: { user_id: string }) => r.user_id),
      users: (await tx.query(`SELECT id FROM users`)).map((r: { id: string }) => r.id).sort(),
      organizations: (await tx.query(`SELECT id FROM organizations`)).map((r: { id: string }) => r.id),
    }));
    expect(counts).toEqual({
      biomarkers: [ids.orgA],
      retinal: 1,
      profiles: [ids.patientA1],
      users: [ids.clinicianA, ids.patientA1, ids.patientA2].sort(),
      organizations: [ids.orgA],
    });
  });

  it('rejects an INSERT of an assessment for another organization', async () => {
    await expect(
      run(clinicianOfA(), (tx) =>
        tx.query(
          `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type) VALUES ('rls-cross', $1, $2, 'speech')`,
          [ids.patientB, ids.orgB],
        ),
      ),
    ).rejects.toMatchObject({ driverError: expect.objectContaining({ code: '42501' }) });
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM assessments WHERE session_id = 'rls-cross'`);
    expect(n).toBe(0);
  });

  it('rejects moving a visible row into another organization, and updating rows it cannot see changes nothing', async () => {
    await expect(
      run(clinicianOfA(), (tx) => tx.query(`UPDATE assessments SET organization_id = $1 WHERE id = $2`, [ids.orgB, ids.assessmentA2])),
    ).rejects.toMatchObject({ driverError: expect.objectContaining({ code: '42501' }) });
    const touched = await run(clinicianOfA(), (tx) => tx.query(`UPDATE assessments SET risk_score = 99 WHERE id = $1`, [ids.assessmentB]));
    expect(touched[1]).toBe(0);
    const [b] = await db.dataSource.query(`SELECT risk_score, organization_id FROM assessments WHERE id = $1`, [ids.assessmentB]);
    expect(b).toEqual({ risk_score: '42.00', organization_id: ids.orgB });
  });

  it('cannot attach biomarkers to an assessment it cannot see', async () => {
    await expect(
      run(clinicianOfA(), (tx) =>
        tx.query(`INSERT INTO biomarker_values (assessment_id, biomarker_name, value) VALUES ($1, 'x', 1)`, [ids.assessmentB]),
      ),
    ).rejects.toMatchObject({ driverError: expect.objectContaining({ code: '23503' }) });
  });

  it('a patient context sees only that patient\'s compartment', async () => {
    const rows = await run({ userId: ids.patientA1, organizationId: ids.orgA, role: 'patient', patientId: ids.patientA1 }, (tx) =>
      tx.query(`SELECT id, user_id FROM assessments`),
    );
    expect(rows).toEqual([{ id: ids.assessmentA1, user_id: ids.patientA1 }]);
    const staffWithPatientContext = await run({ ...clinicianOfA(), patientId: ids.patientA2 }, (tx) => tx.query(`SELECT id FROM assessments`));
    expect(idsOf(staffWithPatientContext)).toEqual([ids.assessmentA2]);
  });

  it('a patient role without staff rights does not see the rest of its organization', async () => {
    const rows = await run({ userId: ids.patientA1, organizationId: ids.orgA, role: 'patient' }, (tx) => tx.query(`SELECT id FROM users`));
    expect(idsOf(rows)).toEqual([ids.patientA1]);
  });

  it('a missing identity matches nothing', async () => {
    const counts = await run({}, async (tx) => ({
      assessments: (await tx.query(`SELECT count(*)::int AS n FROM assessments`))[0].n,
      users: (await tx.query(`SELECT count(*)::int AS n FROM users`))[0].n,
      organizations: (await tx.query(`SELECT count(*)::int AS n FROM organizations`))[0].n,
    }));
    expect(counts).toEqual({ assessments: 0, users: 0, organizations: 0 });
  });

  it('a system identity across all organizations sees everything', async () => {
    const rows = await run({ role: 'system', allOrganizations: true }, (tx) => tx.query(`SELECT id FROM assessments`));
    expect(idsOf(rows)).toEqual([ids.assessmentA1, ids.assessmentA2, ids.assessmentB].sort());
  });

  it('role and identity do not outlive the transaction on a pooled connection', async () => {
    const qr = db.dataSource.createQueryRunner();
    await qr.connect();
    try {
      await qr.startTransaction();
      await qr.query(`SELECT set_config('role', $1, true), set_config('app.current_org_id', $2, true), set_config('app.user_role', 'clinician', true)`, [APP_ROLE, ids.orgA]);
      expect((await qr.query(`SELECT count(*)::int AS n FROM assessments`))[0].n).toBe(2);
      await qr.commitTransaction();
      const [after] = await qr.query(`SELECT current_user AS role, current_setting('app.current_org_id', true) AS org`);
      expect(after.role).not.toBe(APP_ROLE);
      expect(after.org ?? '').toBe('');
    } finally {
      await qr.release();
    }
  });

  it('the application role may append to the audit trail but not change or remove it', async () => {
    const operator: DbIdentity = { role: 'system', allOrganizations: true };
    await run(operator, (tx) =>
      tx.query(`INSERT INTO audit_events (actor_type, event_type, action) VALUES ('api', 'rls_test', 'read')`),
    );
    for (const sql of [`DELETE FROM audit_events`, `UPDATE audit_events SET action = 'x'`, `TRUNCATE audit_events`]) {
      await expect(run(operator, (tx) => tx.query(sql))).rejects.toMatchObject({
        driverError: expect.objectContaining({ code: '42501' }),
      });
    }
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM audit_events WHERE event_type = 'rls_test'`);
    expect(n).toBe(1);
  });

  it('rejects a malformed identity before it reaches the database', async () => {
    await expect(run({ organizationId: "x' OR 1=1 --" }, (tx) => tx.query('SELECT 1'))).rejects.toThrow('organizationId must be a UUID');
  });
});
