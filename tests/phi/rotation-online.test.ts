import request from 'supertest';
import type { Express } from 'express';
import { encryptField, PHI_COLUMNS } from '../../src/phi/cipher';
import { rotatePhiKeys } from '../../src/phi/rotate';
import { backendToken, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization } from '../support/fixtures';
import { decrypted, insertProfile, rawProfiles, rings } from './helpers';

const PATIENTS = 60;

/** Rotation runs in short batches while the gateway keeps answering. */
describe(`rotate-phi-key while the gateway serves (${testBackend()})`, () => {
  const { ring } = rings();
  let db: TestDatabase;
  let app: Express;
  let token: string;
  const patients: string[] = [];
  const history = (i: number) => [{ condition: `Condition ${i}`, since: '2020' }];

  beforeAll(async () => {
    db = await openTestDatabase();
    app = testApp(db);
    const org = await insertOrganization(db.dataSource, 'Online clinic');
    for (let i = 0; i < PATIENTS; i++) {
      const id = await insertProfile(db.dataSource, org, `Online${i}`, {});
      await db.dataSource.query(`UPDATE user_profiles SET medical_history = $2::jsonb WHERE user_id = $1`, [
        id,
        JSON.stringify(encryptField(ring('k1'), 'medical_history', id, history(i))),
      ]);
      patients.push(id);
    }
    const key = await keyClient(db, 'ehr-phi', 'system/*.rs', org);
    token = await backendToken(app, 'ehr-phi', key, 'system/Patient.rs');
  }, 120_000);
  afterAll(() => db.close());

  it('keeps answering Patient reads and searches, without an error, while every row is re-encrypted', async () => {
    let rotating = true;
    const statuses = new Map<number, number>();
    let readsDuringRotation = 0;
    const reader = async (offset: number): Promise<void> => {
      for (let i = offset; rotating; i += 3) {
        const id = patients[i % PATIENTS];
        const res = i % 5 === 0
          ? await request(app).get(`/fhir/Patient?_id=${id}`).auth(token, { type: 'bearer' })
          : await request(app).get(`/fhir/Patient/${id}`).auth(token, { type: 'bearer' });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200 && res.body.resourceType === 'Patient') expect(res.body.id).toBe(id);
        if (rotating) readsDuringRotation++;
      }
    };
    const batches: number[] = [];
    const rotation = rotatePhiKeys(db.dataSource, ring('k2', 'k1'), { batchSize: 5, onProgress: (done) => batches.push(done) })
      .finally(() => (rotating = false));
    const [summary] = await Promise.all([rotation, reader(0), reader(1), reader(2)]);

    expect(summary).toMatchObject({ rows: PATIENTS, left: 0 });
    expect(batches.length).toBeGreaterThan(PATIENTS / 5);
    expect([...statuses.keys()]).toEqual([200]);
    // The reads interleaved with the batches rather than waiting for the rotation to end.
    expect(readsDuringRotation).toBeGreaterThan(3);
    const rows = await rawProfiles(db.dataSource);
    patients.forEach((id, i) => {
      const row = rows.get(id)!;
      for (const c of PHI_COLUMNS) expect(JSON.parse(row[c]!).kid).toBe('k2');
      expect(decrypted(ring('k2', 'k1'), row).medical_history).toEqual(history(i));
    });
  });

  // PGlite's socket server runs one transaction at a time, so a held lock would stall everything there.
  const serverOnly = testBackend() === 'embedded' ? it.skip : it;
  serverOnly('passes over a row another transaction holds, and picks it up once it is free', async () => {
    const [busy, free] = patients;
    await db.dataSource.query(`UPDATE user_profiles SET allergies = '["latex"]' WHERE user_id = ANY($1)`, [[busy, free]]);
    const holder = db.dataSource.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    try {
      await holder.query(`SELECT 1 FROM user_profiles WHERE user_id = $1 FOR UPDATE`, [busy]);
      const held = await rotatePhiKeys(db.dataSource, ring('k2', 'k1'), { batchSize: 5 });
      expect(held).toMatchObject({ rows: 1, plaintext: 1, left: 1 });
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
    const released = await rotatePhiKeys(db.dataSource, ring('k2', 'k1'), { batchSize: 5 });
    expect(released).toMatchObject({ rows: 1, plaintext: 1, left: 0 });
    const rows = await rawProfiles(db.dataSource);
    for (const id of [busy, free]) expect(decrypted(ring('k2'), rows.get(id)!).allergies).toEqual(['latex']);
  });
});
