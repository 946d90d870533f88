import { withDbContext } from '../src/db/context';
import { openTestDatabase, testBackend, type TestDatabase } from './support/database';
import { insertOrganization, insertUser } from './support/fixtures';

/** Seed §8.3's assessment audit trigger, fixed so that it never fails, with or without a user set. */
describe(`assessment audit trigger (${testBackend()})`, () => {
  let db: TestDatabase;
  let org: string;
  let patient: string;
  let clinician: string;
  beforeAll(async () => {
    db = await openTestDatabase();
    org = await insertOrganization(db.dataSource, 'Audit Clinic');
    patient = await insertUser(db.dataSource, org, 'Audited');
    clinician = await insertUser(db.dataSource, org, 'Doctor');
  });
  afterAll(() => db.close());

  const eventsFor = (id: string) =>
    db.dataSource.query(
      `SELECT user_id, organization_id, actor_type, event_type, resource_type, resource_id, action, hipaa_relevant, phi_accessed, details
         FROM audit_events WHERE resource_id = $1 ORDER BY created_at, action`,
      [id],
    );

  it('records insert, update and delete with no user set (the MediLens backend writing directly)', async () => {
    const [{ id }] = await db.dataSource.query(
      `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type) VALUES ('trg-1', $1, $2, 'speech') RETURNING id`,
      [patient, org],
    );
    await db.dataSource.query(`UPDATE assessments SET status = 'completed' WHERE id = $1`, [id]);
    await db.dataSource.query(`DELETE FROM assessments WHERE id = $1`, [id]);
    const events = await eventsFor(id);
    expect(events.map((e: { action: string; event_type: string }) => [e.action, e.event_type])).toEqual([
      ['create', 'assessment_created'],
      ['update', 'assessment_updated'],
      ['delete', 'assessment_deleted'],
    ]);
    for (const e of events) {
      expect(e).toMatchObject({ user_id: null, organization_id: org, actor_type: 'system', resource_type: 'assessment', resource_id: id, hipaa_relevant: true, phi_accessed: true });
      expect(e.details.patient_id).toBe(patient);
    }
  });

  it('records the acting user when the request context sets one', async () => {
    const id = await withDbContext(db.dataSource, { userId: clinician, organizationId: org, role: 'clinician' }, async (tx) => {
      const [row] = await tx.query(
        `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type) VALUES ('trg-2', $1, $2, 'retinal') RETURNING id`,
        [patient, org],
      );
      return row.id as string;
    });
    const [event] = await eventsFor(id);
    expect(event).toMatchObject({ user_id: clinician, actor_type: 'user', action: 'create', organization_id: org });
  });

  it('does not fail on an empty or malformed user setting', async () => {
    for (const [n, setting] of [['3', ''], ['4', 'not-a-uuid']] as const) {
      const id = await db.dataSource.transaction(async (tx) => {
        await tx.query(`SELECT set_config('app.current_user_id', $1, true)`, [setting]);
        const [row] = await tx.query(
          `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type) VALUES ($1, $2, $3, 'cognitive') RETURNING id`,
          [`trg-${n}`, patient, org],
        );
        return row.id as string;
      });
      const [event] = await eventsFor(id);
      expect(event).toMatchObject({ user_id: null, actor_type: 'system', action: 'create' });
    }
  });
});
