import { rotatePhiKeys } from '../../src/phi/rotate';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization } from '../support/fixtures';
import { insertProfile, rings } from './helpers';

/**
 * Re-encryption changes ciphertext, not the Patient: the profile's PHI columns are not part of the
 * Patient resource, so rotation makes no new Patient version and no history (PatientWrites migration).
 */
describe(`Key rotation makes no Patient versions (${testBackend()})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(() => db.close());

  it('leaves version_id, version_at and resource_history untouched, while a language change still makes a version', async () => {
    const { ring } = rings();
    const org = await insertOrganization(db.dataSource, 'Rotation clinic');
    const ids = await Promise.all(
      ['Ada', 'Bo', 'Cy'].map((name) => insertProfile(db.dataSource, org, name, { medical_history: '["asthma"]', medications: '[]', allergies: '["latex"]' })),
    );
    const state = async () =>
      db.dataSource.query(
        `SELECT u.id, u.version_id, u.version_at, (SELECT count(*)::int FROM resource_history h WHERE h.resource_id = u.id) AS archived
           FROM users u WHERE u.id = ANY($1::uuid[]) ORDER BY u.id`,
        [ids],
      );
    const before = await state();
    // (The profile, inserted after its user, was version 2.)
    expect(before.map((r: { version_id: number }) => r.version_id)).toEqual([2, 2, 2]);

    expect((await rotatePhiKeys(db.dataSource, ring('k1'))).rows).toBe(3); // plaintext -> k1
    expect((await rotatePhiKeys(db.dataSource, ring('k2', 'k1'))).rows).toBe(3); // k1 -> k2
    expect(await state()).toEqual(before);

    await db.dataSource.query(`UPDATE user_profiles SET language = 'de' WHERE user_id = $1`, [ids[0]]);
    const changed = (await state()).find((r: { id: string }) => r.id === ids[0]);
    expect([changed.version_id, changed.archived]).toEqual([3, 2]);
  });
});
