import type { DataSource } from 'typeorm';
import { migrations } from '../../migrations';
import { AuditTrail1767225600008 } from '../../migrations/1767225600008-AuditTrail';
import { migrate } from '../../src/db/migrate';
import { eventHash, GENESIS_HASH, verifyChain } from '../../src/audit/verify';
import { openDatabase, type Database } from '../../src/db/datasource';
import { withDbContext, withMaintenanceContext } from '../../src/db/context';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertAssessment, insertOrganization, insertUser } from '../support/fixtures';
import { appendEvents, chainHead, forgeEvent, storedEvents, SYSTEM } from './chain-fixtures';

/**
 * The audit trail's hash chain (the AuditTrail migration) and audit verify's walk over it: an untouched
 * chain verifies, every kind of tampering is found and named, the application role cannot tamper at
 * all, concurrent writers keep the chain linear, and moving rows between partitions keeps their hashes.
 */

/** Some events as the gateway writes them, and some as the MediLens backend's assessment trigger does. */
async function recordSomeEvents(ds: DataSource): Promise<void> {
  const org = await insertOrganization(ds, 'Chain Clinic');
  const patient = await insertUser(ds, org, 'Chained');
  await appendEvents(ds, 'first', 3);
  await insertAssessment(ds, patient, org);
  await appendEvents(ds, 'second', 4);
  await withDbContext(ds, SYSTEM, (tx) =>
    tx.query(
      `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type) VALUES ('chain-1', $1, $2, 'speech')`,
      [patient, org],
    ),
  );
  await ds.query(`UPDATE assessments SET status = 'completed' WHERE session_id = 'chain-1'`);
  await appendEvents(ds, 'third', 2);
}
const RECORDED = 3 + 1 + 4 + 1 + 1 + 2;

describe(`the audit hash chain (${testBackend()})`, () => {
  jest.setTimeout(120_000);

  describe('an untouched chain', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await openTestDatabase();
      await recordSomeEvents(db.dataSource);
    });
    afterAll(() => db.close());

    it('links every event to the previous one, seq 1..n, from the genesis hash to the chain head', async () => {
      const events = await storedEvents(db.dataSource);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: RECORDED }, (_, i) => i + 1));
      expect(events[0].prevHash).toBe(GENESIS_HASH);
      for (let i = 1; i < events.length; i++) expect(events[i].prevHash).toBe(events[i - 1].hash);
      expect(await chainHead(db.dataSource)).toEqual({ seq: RECORDED, hash: events[RECORDED - 1].hash });
    });

    it('verifies, in one batch or many, reporting progress', async () => {
      const head = await chainHead(db.dataSource);
      const expected = { ok: true, checked: RECORDED, firstSeq: 1, lastSeq: RECORDED, headHash: head.hash, trustedPrevHash: false, headCompared: true };
      expect(await verifyChain(db.dataSource)).toEqual(expected);
      const progress: [number, number][] = [];
      expect(await verifyChain(db.dataSource, { batchSize: 3, onProgress: (done, total) => progress.push([done, total]) })).toEqual(expected);
      expect(progress).toEqual([[0, 12], [3, 12], [6, 12], [9, 12], [12, 12]]);
      expect(await verifyChain(db.dataSource, { batchSize: RECORDED })).toEqual(expected);
    });

    it('hashes what audit_canonical renders in UTC, whatever the session zone of the writer', async () => {
      await db.dataSource.transaction(async (tx) => {
        await tx.query(`SET LOCAL timezone = 'America/New_York'`);
        await tx.query(`INSERT INTO audit_events (actor_type, event_type, action, created_at) VALUES ('system', 'rest', 'R', '2031-01-15 09:00')`);
      });
      const [row] = await withMaintenanceContext(db.dataSource, async (tx) => {
        await tx.query(`SELECT set_config('TimeZone', 'UTC', true)`);
        return tx.query(`SELECT prev_hash, hash, audit_canonical(to_jsonb(e)) AS canonical FROM audit_events e WHERE seq = $1`, [RECORDED + 1]);
      });
      expect(row.canonical).toContain('"created_at": "2031-01-15T14:00:00+00:00"');
      expect(eventHash(row.prev_hash, row.canonical)).toBe(row.hash);
      expect((await verifyChain(db.dataSource)).ok).toBe(true);
    });

    it('verifies an empty trail (head at genesis)', async () => {
      const empty = await openTestDatabase();
      try {
        expect(await verifyChain(empty.dataSource)).toEqual({
          ok: true, checked: 0, firstSeq: null, lastSeq: null, headHash: GENESIS_HASH, trustedPrevHash: false, headCompared: true,
        });
      } finally {
        await empty.close();
      }
    });
  });

  describe('tampering by the database owner', () => {
    let db: TestDatabase;
    let events: Awaited<ReturnType<typeof storedEvents>>;
    // A fresh database per test: each tampers differently, and the others must find their chain intact.
    beforeEach(async () => {
      db = await openTestDatabase();
      await recordSomeEvents(db.dataSource);
      events = await storedEvents(db.dataSource);
    });
    afterEach(() => db.close());

    it('an edited event fails with hash mismatch, naming exactly that event', async () => {
      await db.dataSource.query(`UPDATE audit_events SET action = 'D' WHERE seq = 5`);
      const result = await verifyChain(db.dataSource, { batchSize: 2 });
      expect(result).toMatchObject({ ok: false, checked: 4, lastSeq: 4 });
      expect(result.broken).toMatchObject({ seq: 5, id: events[4].id, createdAt: events[4].createdAt, reason: 'hash mismatch' });
      expect(result.broken!.detail).toMatch(/^content edited/);
    });

    it('an edited timestamp is content too', async () => {
      await db.dataSource.query(`UPDATE audit_events SET created_at = created_at - interval '1 second' WHERE seq = 2`);
      expect((await verifyChain(db.dataSource)).broken).toMatchObject({ seq: 2, id: events[1].id, reason: 'hash mismatch' });
    });

    it('a deleted event in the middle fails at the next event, naming the missing seq', async () => {
      await db.dataSource.query(`DELETE FROM audit_events WHERE seq = 7`);
      const result = await verifyChain(db.dataSource, { batchSize: 4 });
      expect(result).toMatchObject({ ok: false, checked: 6 });
      expect(result.broken).toMatchObject({ seq: 8, id: events[7].id, reason: 'missing events 7..7' });
      await db.dataSource.query(`DELETE FROM audit_events WHERE seq IN (1, 2)`);
      expect((await verifyChain(db.dataSource)).broken).toMatchObject({ seq: 3, id: events[2].id, reason: 'missing events 1..2' });
    });

    it('a deleted last event fails with head mismatch', async () => {
      await db.dataSource.query(`DELETE FROM audit_events WHERE seq = $1`, [RECORDED]);
      const result = await verifyChain(db.dataSource);
      expect(result).toMatchObject({ ok: false, checked: RECORDED - 1, headCompared: true });
      expect(result.broken).toMatchObject({ seq: RECORDED - 1, id: events[RECORDED - 2].id, reason: 'head mismatch' });
      expect(result.broken!.detail).toMatch(new RegExp(`^chain head is seq ${RECORDED} .*the last event is seq ${RECORDED - 1} .*deleted$`));
    });

    it('every event deleted fails with head mismatch too', async () => {
      await db.dataSource.query(`DELETE FROM audit_events`);
      expect((await verifyChain(db.dataSource)).broken).toMatchObject({ seq: null, id: null, reason: 'head mismatch' });
    });

    it('an edited and re-hashed event (a forger who knows the scheme) fails at the next event\'s link', async () => {
      await forgeEvent(db.dataSource, 6);
      const result = await verifyChain(db.dataSource);
      expect(result).toMatchObject({ ok: false, checked: 6 });
      expect(result.broken).toMatchObject({ seq: 7, id: events[6].id, reason: 'link mismatch' });
      expect(result.broken!.detail).toMatch(/of event seq 6: that event was rewritten$/);
    });

    it('the last event edited and re-hashed fails with head mismatch', async () => {
      await forgeEvent(db.dataSource, RECORDED);
      expect((await verifyChain(db.dataSource)).broken).toMatchObject({ seq: RECORDED, id: events[RECORDED - 1].id, reason: 'head mismatch' });
    });

    it('the whole chain recomputed after an edit still differs from the chain head', async () => {
      await db.dataSource.query(`UPDATE audit_events SET details = '{}' WHERE seq = 3`);
      for (let seq = 3; seq <= RECORDED; seq++) {
        if (seq > 3) await db.dataSource.query(`UPDATE audit_events SET prev_hash = (SELECT hash FROM audit_events WHERE seq = $1) WHERE seq = $2`, [seq - 1, seq]);
        await forgeEvent(db.dataSource, seq);
      }
      expect((await verifyChain(db.dataSource)).broken).toMatchObject({ seq: RECORDED, reason: 'head mismatch' });
    });

    it('an event inserted with its own hashes (bypassing the trigger) is found', async () => {
      const copy = events[3];
      await db.dataSource.query(
        `INSERT INTO audit_events (id, created_at, actor_type, event_type, action, seq, prev_hash, hash)
         VALUES (gen_random_uuid(), $1, 'system', 'rest', 'R', 4, $2, $3)`,
        [copy.createdAt, copy.prevHash, copy.hash],
      );
      expect((await verifyChain(db.dataSource)).broken).toMatchObject({ seq: 4, reason: expect.stringMatching(/^(link|hash) mismatch$/) });
      const beyond = await db.dataSource.query(
        `INSERT INTO audit_events (actor_type, event_type, action, seq, prev_hash, hash)
         VALUES ('system', 'rest', 'R', $1, $2, $2) RETURNING id`,
        [RECORDED + 5, GENESIS_HASH],
      );
      await db.dataSource.query(`DELETE FROM audit_events WHERE seq = 4 AND id <> $1`, [copy.id]);
      expect((await verifyChain(db.dataSource)).broken).toMatchObject({ seq: RECORDED + 5, id: beyond[0].id, reason: 'head mismatch' });
    });
  });

  describe('the application role', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await openTestDatabase();
      await recordSomeEvents(db.dataSource);
    });
    afterAll(() => db.close());

    const attempts = [
      `UPDATE audit_events SET action = 'D'`,
      `UPDATE audit_events SET hash = prev_hash WHERE seq = 1`,
      `DELETE FROM audit_events WHERE seq = 1`,
      `TRUNCATE audit_events`,
      `INSERT INTO audit_events (actor_type, event_type, action, seq) VALUES ('system', 'rest', 'R', 99)`,
      `INSERT INTO audit_events (actor_type, event_type, action, prev_hash) VALUES ('system', 'rest', 'R', repeat('0', 64))`,
      `INSERT INTO audit_events (actor_type, event_type, action, hash) VALUES ('system', 'rest', 'R', repeat('0', 64))`,
      `SELECT * FROM audit_chain`,
      `UPDATE audit_chain SET seq = 0, hash = repeat('0', 64)`,
      `DELETE FROM audit_chain`,
      `TRUNCATE audit_chain`,
      `INSERT INTO audit_chain (id, seq, hash) VALUES (1, 0, repeat('0', 64)) ON CONFLICT (id) DO UPDATE SET seq = 0`,
      `UPDATE audit_events_default SET action = 'D'`,
      `DELETE FROM audit_events_default`,
      `INSERT INTO audit_events_default (actor_type, event_type, action) VALUES ('system', 'rest', 'R')`,
    ];

    it.each(attempts)('is refused: %s', async (sql) => {
      await expect(withDbContext(db.dataSource, SYSTEM, (tx) => tx.query(sql))).rejects.toMatchObject({
        driverError: expect.objectContaining({ code: '42501' }),
      });
    });

    it('cannot switch the chain trigger off', async () => {
      await expect(
        withDbContext(db.dataSource, SYSTEM, (tx) => tx.query(`ALTER TABLE audit_events DISABLE TRIGGER audit_events_chain`)),
      ).rejects.toMatchObject({ driverError: expect.objectContaining({ code: '42501' }) });
    });

    it('left nothing changed by those attempts: same events, same head, and the chain verifies', async () => {
      const events = await storedEvents(db.dataSource);
      expect(events).toHaveLength(RECORDED);
      expect(await chainHead(db.dataSource)).toEqual({ seq: RECORDED, hash: events[RECORDED - 1].hash });
      expect(await verifyChain(db.dataSource)).toMatchObject({ ok: true, checked: RECORDED });
    });

    it('reads the chain columns (operators see where an event sits), and appends events that get linked', async () => {
      const rows = await withDbContext(db.dataSource, SYSTEM, async (tx) => {
        await tx.query(`INSERT INTO audit_events (actor_type, event_type, action) VALUES ('system', 'rest', 'R')`);
        return tx.query(`SELECT seq::int AS seq, prev_hash, hash FROM audit_events ORDER BY seq DESC LIMIT 2`);
      });
      expect(rows[0].seq).toBe(RECORDED + 1);
      expect(rows[0].prev_hash).toBe(rows[1].hash);
      expect(await verifyChain(db.dataSource)).toMatchObject({ ok: true, checked: RECORDED + 1 });
    });
  });

  describe('concurrent writers', () => {
    let db: TestDatabase;
    let pools: Database[] = [];
    let org: string;
    let patient: string;
    beforeAll(async () => {
      db = await openTestDatabase({ poolSize: 8 });
      org = await insertOrganization(db.dataSource, 'Busy Clinic');
      patient = await insertUser(db.dataSource, org, 'Busy');
      // Four more "gateways" on a server. An embedded database lives in this process alone (its config
      // cannot be opened twice), so there the writers share the pool: each connection is its own session.
      if (testBackend() !== 'embedded') pools = await Promise.all(Array.from({ length: 4 }, () => openDatabase(db.config, { poolSize: 2 })));
    });
    afterAll(async () => {
      await Promise.all(pools.map((p) => p.close()));
      await db.close();
    });

    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

    /** 20 steps: multi-row INSERTs, transactions that also write an assessment, rollbacks, single events. */
    async function writer(ds: DataSource, w: number): Promise<number> {
      let committed = 0;
      for (let step = 0; step < 20; step++) {
        const marker = `writer-${w}`;
        switch (step % 4) {
          case 0:
            await appendEvents(ds, marker, 5);
            committed += 5;
            break;
          case 1:
            await withDbContext(ds, SYSTEM, async (tx) => {
              await tx.query(`INSERT INTO audit_events (actor_type, event_type, action, details) VALUES ('system', 'rest', 'C', $1)`, [{ marker }]);
              await pause((w * 5 + step) % 7);
              await tx.query(
                `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type) VALUES ($1, $2, $3, 'speech')`,
                [`${marker}-${step}`, patient, org],
              );
              await tx.query(`INSERT INTO audit_events (actor_type, event_type, action, details) VALUES ('system', 'rest', 'C', $1)`, [{ marker }]);
            });
            committed += 3;
            break;
          case 2:
            await expect(
              withDbContext(ds, SYSTEM, async (tx) => {
                await tx.query(`INSERT INTO audit_events (actor_type, event_type, action, details) SELECT 'system', 'rest', 'R', $1 FROM generate_series(1, 3)`, [{ marker }]);
                await pause((w * 3 + step) % 5);
                throw new Error('roll back');
              }),
            ).rejects.toThrow('roll back');
            break;
          default:
            await withDbContext(ds, SYSTEM, (tx) =>
              tx.query(`INSERT INTO audit_events (actor_type, event_type, action, details) VALUES ('system', 'rest', 'R', $1)`, [{ marker }]),
            );
            committed += 1;
        }
      }
      return committed;
    }

    it('keep seq exactly 1..n without gaps or duplicates, every committed event in, and the chain verifies', async () => {
      const sources = pools.length > 0 ? pools.map((p) => p.dataSource) : Array.from({ length: 4 }, () => db.dataSource);
      const committed = await Promise.all(sources.map((ds, w) => writer(ds, w)));
      const total = committed.reduce((a, b) => a + b, 0);
      expect(total).toBe(4 * 45);

      const events = await storedEvents(db.dataSource);
      expect(events).toHaveLength(total);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      const perWriter = await db.dataSource.query(
        `SELECT details->>'marker' AS marker, count(*)::int AS n FROM audit_events WHERE details ? 'marker' GROUP BY 1 ORDER BY 1`,
      );
      // Each writer's own events; the trigger's events (one per assessment) carry no marker.
      expect(perWriter).toEqual([0, 1, 2, 3].map((w) => ({ marker: `writer-${w}`, n: 40 })));
      expect(await chainHead(db.dataSource)).toEqual({ seq: total, hash: events[total - 1].hash });
      expect(await verifyChain(db.dataSource, { batchSize: 50 })).toMatchObject({ ok: true, checked: total, lastSeq: total });
    });
  });

  describe('--from and --to', () => {
    let db: TestDatabase;
    let events: Awaited<ReturnType<typeof storedEvents>>;
    // In seq order; the fourth arrives late, with a May time after a June one: created_at is not monotonic in seq.
    const RECORDED_AT = ['2031-05-10T08:00:00Z', '2031-05-20T08:00:00Z', '2031-06-02T08:00:00Z', '2031-05-25T08:00:00Z', '2031-06-10T08:00:00Z', '2031-06-20T08:00:00Z'];
    beforeAll(async () => {
      db = await openTestDatabase();
      for (const at of RECORDED_AT) await appendEvents(db.dataSource, 'dated', 1, at);
      events = await storedEvents(db.dataSource);
    });
    afterAll(() => db.close());

    const june = new Date('2031-06-01T00:00:00Z');

    it('--from walks from the first event recorded then, to the chain head, trusting that event\'s link', async () => {
      const result = await verifyChain(db.dataSource, { from: june });
      expect(result).toEqual({ ok: true, checked: 4, firstSeq: 3, lastSeq: 6, headHash: events[5].hash, trustedPrevHash: true, headCompared: true });
    });

    it('--to walks to the last event recorded before it, and does not compare the head', async () => {
      const result = await verifyChain(db.dataSource, { to: june });
      // seq 3 (June) lies between May events in seq: the walk covers it.
      expect(result).toEqual({ ok: true, checked: 4, firstSeq: 1, lastSeq: 4, headHash: events[3].hash, trustedPrevHash: false, headCompared: false });
    });

    it('both bound a contiguous seq range; a --to after every event reaches the head', async () => {
      expect(await verifyChain(db.dataSource, { from: new Date('2031-05-15T00:00:00Z'), to: new Date('2031-06-05T00:00:00Z') })).toMatchObject({
        ok: true, checked: 3, firstSeq: 2, lastSeq: 4, trustedPrevHash: true, headCompared: false,
      });
      expect(await verifyChain(db.dataSource, { from: new Date('2030-01-01T00:00:00Z'), to: new Date('2032-01-01T00:00:00Z') })).toMatchObject({
        ok: true, checked: 6, firstSeq: 1, lastSeq: 6, trustedPrevHash: false, headCompared: true,
      });
      expect(await verifyChain(db.dataSource, { from: new Date('2032-01-01T00:00:00Z') })).toMatchObject({ ok: true, checked: 0 });
      expect(await verifyChain(db.dataSource, { to: new Date('2031-01-01T00:00:00Z') })).toMatchObject({ ok: true, checked: 0 });
    });

    it('a range only finds what happened inside it', async () => {
      await db.dataSource.query(`UPDATE audit_events SET action = 'D' WHERE seq = 1`);
      expect(await verifyChain(db.dataSource, { from: june })).toMatchObject({ ok: true, checked: 4 });
      expect((await verifyChain(db.dataSource, { to: june })).broken).toMatchObject({ seq: 1, reason: 'hash mismatch' });
      await db.dataSource.query(`DELETE FROM audit_events WHERE seq = 6`);
      expect((await verifyChain(db.dataSource, { from: june })).broken).toMatchObject({ seq: 5, reason: 'head mismatch' });
      // A --to after every event reaches the head, so the deleted last event shows there too.
      expect((await verifyChain(db.dataSource, { from: june, to: new Date('2032-01-01T00:00:00Z') })).broken).toMatchObject({ seq: 5, reason: 'head mismatch' });
    });
  });

  describe('partitions', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await openTestDatabase();
      await appendEvents(db.dataSource, 'may', 3, '2031-05-10T12:00:00Z');
      await appendEvents(db.dataSource, 'june', 2, '2031-06-01T00:00:00Z');
      await appendEvents(db.dataSource, 'may-late', 1, '2031-05-31T23:59:59.999Z');
    });
    afterAll(() => db.close());

    it('moving a month out of the default partition keeps every seq and hash, and the chain verifies', async () => {
      const before = await storedEvents(db.dataSource);
      expect(new Set(before.map((e) => e.part))).toEqual(new Set(['audit_events_default']));

      const [{ created }] = await db.dataSource.query(`SELECT ensure_monthly_partitions('audit_events', '2031-05-01', 1) AS created`);
      expect(created).toBe(1);
      const after = await storedEvents(db.dataSource);
      expect(after.map((e) => e.part)).toEqual(['audit_events_2031_05', 'audit_events_2031_05', 'audit_events_2031_05', 'audit_events_default', 'audit_events_default', 'audit_events_2031_05']);
      expect(after.map(({ part: _, ...e }) => e)).toEqual(before.map(({ part: _, ...e }) => e));
      expect(await verifyChain(db.dataSource)).toMatchObject({ ok: true, checked: 6 });
    });

    it('new events of that month go to its partition and continue the chain', async () => {
      await appendEvents(db.dataSource, 'may-again', 2, '2031-05-15T00:00:00Z');
      const events = await storedEvents(db.dataSource);
      expect(events.slice(6).map((e) => [e.seq, e.part])).toEqual([[7, 'audit_events_2031_05'], [8, 'audit_events_2031_05']]);
      expect(events[6].prevHash).toBe(events[5].hash);
      expect(await verifyChain(db.dataSource)).toMatchObject({ ok: true, checked: 8 });
    });

    it('gives the application role nothing on the new partition itself (RLS and the grants are on the parent)', async () => {
      for (const sql of [`SELECT * FROM audit_events_2031_05`, `UPDATE audit_events_2031_05 SET action = 'D'`, `DELETE FROM audit_events_2031_05`]) {
        await expect(withDbContext(db.dataSource, SYSTEM, (tx) => tx.query(sql))).rejects.toMatchObject({
          driverError: expect.objectContaining({ code: '42501' }),
        });
      }
    });
  });

  describe('the AuditTrail migration', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await openTestDatabase();
      await recordSomeEvents(db.dataSource);
    });
    afterAll(() => db.close());

    it('reverts alone, keeping the events, and re-applied chains them again', async () => {
      const ids = (await storedEvents(db.dataSource)).map((e) => e.id);
      const newer = migrations.length - migrations.indexOf(AuditTrail1767225600008);
      for (let i = 0; i < newer; i++) await db.dataSource.undoLastMigration({ transaction: 'each' });
      const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM audit_events`);
      expect(n).toBe(RECORDED);

      expect(await migrate(db.dataSource)).toHaveLength(newer);
      // Re-chained in recorded order; events recorded at the same instant, by id.
      const rechained = await db.dataSource.query(`SELECT id FROM audit_events ORDER BY created_at, id`);
      expect((await storedEvents(db.dataSource)).map((e) => e.id)).toEqual(rechained.map((r: { id: string }) => r.id));
      expect(rechained.map((r: { id: string }) => r.id).sort()).toEqual([...ids].sort());
      expect(await verifyChain(db.dataSource)).toMatchObject({ ok: true, checked: RECORDED });
    });
  });
});
