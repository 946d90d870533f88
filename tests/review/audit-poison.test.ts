import crypto from 'node:crypto';
import request from 'supertest';
import { withMaintenanceContext } from '../../src/db/context';
import { seedReferenceData } from '../../src/db/seed';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { auditedApp, auditTrail } from '../audit/support';

/**
 * One event the database refuses poisons the whole queue: drain() unshifts the failed batch and retries it
 * forever (same first row, same failure), so no later event is ever written, the queue grows to maxPending
 * and every request then gets 503. Two unauthenticated ways to put such a row in the queue:
 *  - a NUL byte (%00) in the id of the URL: the event's entity "Patient/x\u0000" cannot go through $1::jsonb
 *    (Postgres: unsupported Unicode escape sequence) nor into TEXT[];
 *  - X-Forwarded-For that is not an IP (trust proxy 'loopback' hands it to req.ip verbatim): actor_ip INET rejects it.
 */
describe(`audit trail poisoned by one bad row (${testBackend()})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
    await seedReferenceData(db.dataSource);
  });
  afterAll(async () => {
    await db?.close();
  });

  const countByRequest = (requestId: string): Promise<number> =>
    withMaintenanceContext(db.dataSource, async (tx) => {
      const [{ n }] = await tx.query(`SELECT count(*)::int AS n FROM audit_events WHERE request_id = $1`, [requestId]);
      return n;
    });

  async function poisonThenHonest(source: string, poison: (app: ReturnType<typeof auditedApp>) => request.Test, status = 401): Promise<void> {
    const audit = auditTrail(db, source, { flushIntervalMs: 60_000 });
    const app = auditedApp(db, audit);
    await poison(app).expect(status);
    const honest = `honest-${crypto.randomUUID()}`;
    await request(app).get(`/fhir/Patient/${crypto.randomUUID()}`).set('X-Request-Id', honest).expect(401);
    let flushError: unknown = null;
    await audit.flush().catch((err: unknown) => {
      flushError = err;
    });
    // The honest request's event must reach the trail whatever the other request sent.
    expect({ flushError: flushError === null ? null : String(flushError), pending: audit.pending, honest: await countByRequest(honest) }).toEqual({
      flushError: null,
      pending: 0,
      honest: 1,
    });
    await audit.close().catch(() => undefined);
  }

  it('a %00 in a read id (before authentication) does not block every later event', async () => {
    await poisonThenHonest('poison-nul@test', (app) => request(app).get('/fhir/Patient/x%00y'));
  });

  it('a non-IP X-Forwarded-For from a loopback peer does not block every later event', async () => {
    await poisonThenHonest('poison-xff@test', (app) => request(app).get(`/fhir/Patient/${crypto.randomUUID()}`).set('X-Forwarded-For', 'not-an-ip'));
  });

  it('a %00 in grant_type (echoed into the refused login\'s outcomeDesc) does not block every later event', async () => {
    await poisonThenHonest('poison-grant@test', (app) => request(app).post('/auth/token').type('form').send('grant_type=%00'), 400);
  });

  it('while the trail is behind, refused requests do not grow the in-memory queue without bound', async () => {
    const audit = auditTrail(db, 'poison-growth@test', { flushIntervalMs: 60_000, maxPending: 3 });
    const app = auditedApp(db, audit);
    await request(app).get('/fhir/Patient/x%00y').expect(401);
    for (let i = 0; i < 3; i++) await request(app).get(`/fhir/Patient/${crypto.randomUUID()}`);
    // Four events wait (nothing flushes for a minute), more than maxPending: the trail is behind.
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await request(app).get(`/fhir/Patient/${crypto.randomUUID()}`)).status);
    expect(statuses.every((s) => s === 503)).toBe(true);
    // A 503 queueing one more event each would turn a database outage into unbounded memory growth: they are counted.
    expect(audit.pending).toBeLessThanOrEqual(3 + 1);
    await audit.close();
    const [summary] = await withMaintenanceContext(db.dataSource, (tx) =>
      tx.query(`SELECT outcome, outcome_desc FROM audit_events WHERE source = 'poison-growth@test' AND request_id = 'audit-backlog'`),
    );
    // The twenty, and the last of the three above if it already found the trail behind.
    expect(summary.outcome).toBe(12);
    expect(summary.outcome_desc).toMatch(/^2[01] request\(s\) refused with 503 while the audit trail was behind$/);
  });
});
