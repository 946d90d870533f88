import { encryptField, PHI_COLUMNS, PhiDecryptError, type PhiColumn } from '../../src/phi/cipher';
import { rotatePhiKeys } from '../../src/phi/rotate';
import { PhiKeysUnavailableError } from '../../src/phi/stored';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization } from '../support/fixtures';
import { decrypted, insertProfile, rawProfiles, rings, type StoredColumns } from './helpers';

const { ring } = rings();
const k1 = ring('k1');
const k21 = ring('k2', 'k1');

const record = (i: number): Record<PhiColumn, unknown> => ({
  medical_history: [{ condition: `Condition number ${i}`, code: String(1000 + i), since: '2019' }],
  medications: i % 3 === 0 ? [] : [{ name: `drug-${i}`, dose: '5 mg', frequency: 'once daily' }],
  allergies: i % 2 === 0 ? ['penicillin'] : [],
});

describe(`rotate-phi-key (${testBackend()})`, () => {
  let db: TestDatabase;
  let org: string;
  /** What every row must decrypt to: undefined where the column is SQL NULL. */
  const expected = new Map<string, Record<PhiColumn, unknown>>();

  const encryptedUnder = (ringUsed: typeof k1, userId: string, values: Record<PhiColumn, unknown>): StoredColumns =>
    Object.fromEntries(PHI_COLUMNS.map((c) => [c, JSON.stringify(encryptField(ringUsed, c, userId, values[c]))]));

  /** A patient whose profile is written in two steps, since the AAD needs the user id. */
  const addPatient = async (name: string, columns: (userId: string) => StoredColumns, values: Record<PhiColumn, unknown>): Promise<string> => {
    const userId = await insertProfile(db.dataSource, org, name, {});
    const stored = columns(userId);
    const set = Object.keys(stored) as PhiColumn[];
    await db.dataSource.query(
      `UPDATE user_profiles SET ${set.map((c, i) => `${c} = $${i + 2}::jsonb`).join(', ')} WHERE user_id = $1`,
      [userId, ...set.map((c) => stored[c])],
    );
    expected.set(userId, values);
    return userId;
  };

  beforeAll(async () => {
    db = await openTestDatabase();
    org = await insertOrganization(db.dataSource, 'Rotation clinic');
    for (let i = 0; i < 14; i++) await addPatient(`Enc${i}`, (id) => encryptedUnder(k1, id, record(i)), record(i));
    for (let i = 20; i < 23; i++) {
      await addPatient(`Legacy${i}`, () => Object.fromEntries(PHI_COLUMNS.map((c) => [c, JSON.stringify(record(i)[c])])), record(i));
    }
    // Column defaults ('[]'), SQL NULL, JSON null, and a row mixing k1, plaintext and k2.
    const defaults = await insertProfile(db.dataSource, org, 'Defaults', {});
    expected.set(defaults, { medical_history: [], medications: [], allergies: [] });
    await addPatient('Nulls', () => ({ medical_history: null, medications: null, allergies: null }), {
      medical_history: undefined, medications: undefined, allergies: undefined,
    });
    await addPatient('JsonNull', () => ({ medical_history: 'null', medications: null }), { medical_history: null, medications: undefined, allergies: [] });
    await addPatient(
      'Mixed',
      (id) => ({
        medical_history: JSON.stringify(encryptField(k1, 'medical_history', id, record(30).medical_history)),
        medications: JSON.stringify(record(30).medications),
        allergies: JSON.stringify(encryptField(k21, 'allergies', id, record(30).allergies)),
      }),
      record(30),
    );
  });
  afterAll(() => db.close());

  it('re-encrypts every field not under the current key, in batches, keeping its value', async () => {
    const before = await rawProfiles(db.dataSource);
    const progress: [number, number][] = [];
    const summary = await rotatePhiKeys(db.dataSource, k21, { batchSize: 4, onProgress: (done, total) => progress.push([done, total]) });

    // 14 under k1, 3 legacy, the defaults, the JSON null and the mixed row; the all-NULL row needs nothing.
    expect(summary).toMatchObject({ currentKid: 'k2', rows: 20, byOldKey: { k1: 15 }, plaintext: 6, left: 0 });
    expect(progress[0]).toEqual([0, 20]);
    expect(progress.at(-1)).toEqual([20, 20]);
    expect(progress.length).toBeGreaterThanOrEqual(6); // 20 rows, 4 a batch

    const after = await rawProfiles(db.dataSource);
    expect([...after.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [userId, row] of after) {
      for (const c of PHI_COLUMNS) {
        if (expected.get(userId)![c] === undefined) {
          expect({ userId, c, stored: row[c] }).toEqual({ userId, c, stored: null });
          continue;
        }
        expect(JSON.parse(row[c]!)).toMatchObject({ enc: 'A256GCM', kid: 'k2' });
      }
      expect({ userId, values: decrypted(k21, row) }).toEqual({ userId, values: expected.get(userId) });
    }
    // The field already under k2 was left as it was.
    const mixed = [...before.values()].find((r) => r.allergies !== null && JSON.parse(r.allergies).kid === 'k2')!;
    expect(after.get(mixed.user_id)!.allergies).toBe(mixed.allergies);
  });

  it('leaves no plaintext behind', async () => {
    const [{ text }] = await db.dataSource.query(`SELECT string_agg(to_jsonb(p)::text, ' ') AS text FROM user_profiles p`);
    for (const word of ['Condition number', 'drug-', 'penicillin', 'once daily']) expect(text).not.toContain(word);
  });

  it('is idempotent: a second run re-encrypts nothing and changes nothing', async () => {
    const before = await rawProfiles(db.dataSource);
    const summary = await rotatePhiKeys(db.dataSource, k21, { batchSize: 4 });
    expect(summary).toMatchObject({ rows: 0, byOldKey: {}, plaintext: 0, left: 0 });
    expect(await rawProfiles(db.dataSource)).toEqual(before);
  });

  it('refuses to rotate when a stored ciphertext names a key the ring lacks, changing nothing', async () => {
    const k0 = ring('k0');
    const orphan = await addPatient('Orphan', (id) => encryptedUnder(k0, id, record(40)), record(40));
    await addPatient('NewLegacy', () => ({ allergies: '["latex"]' }), { medical_history: [], medications: [], allergies: ['latex'] });
    const before = await rawProfiles(db.dataSource);

    const attempt = rotatePhiKeys(db.dataSource, k21, { batchSize: 4 });
    await expect(attempt).rejects.toThrow(PhiKeysUnavailableError);
    await expect(rotatePhiKeys(db.dataSource, k21)).rejects.toThrow(
      'the database holds PHI encrypted under key id "k0" (3 fields) that PHI_KEYS lacks (it holds k2, k1): add that key to PHI_KEYS after the current one',
    );
    expect(await rawProfiles(db.dataSource)).toEqual(before);

    // With the old key back in the ring the same rows rotate.
    const summary = await rotatePhiKeys(db.dataSource, ring('k2', 'k1', 'k0'));
    expect(summary).toMatchObject({ rows: 2, byOldKey: { k0: 1 }, plaintext: 1 });
    expect(decrypted(k21, (await rawProfiles(db.dataSource)).get(orphan)!)).toEqual(record(40));
  });

  it('stops at a ciphertext that does not decrypt, rolling its batch back', async () => {
    const bystander = await addPatient('Bystander', () => ({ medications: '["aspirin"]' }), { medical_history: [], medications: ['aspirin'], allergies: [] });
    // Another patient's ciphertext copied into this row must not decrypt as this patient's history.
    const victim = await addPatient(
      'Copied',
      (id) => ({ ...encryptedUnder(k1, id, record(50)), medical_history: JSON.stringify(encryptField(k1, 'medical_history', bystander, record(51).medical_history)) }),
      record(50),
    );
    const before = await rawProfiles(db.dataSource);
    await expect(rotatePhiKeys(db.dataSource, k21, { batchSize: 100 })).rejects.toThrow(PhiDecryptError);
    await expect(rotatePhiKeys(db.dataSource, k21, { batchSize: 100 })).rejects.toThrow(
      `user_profiles.medical_history of user ${victim} does not decrypt under key "k1"`,
    );
    // One batch, one transaction: the bystander's plaintext in the same batch is not half-rotated either.
    expect(await rawProfiles(db.dataSource)).toEqual(before);
  });
});
