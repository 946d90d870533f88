import { generateDemoData } from '../../src/demo/generator';
import { PHI_COLUMNS } from '../../src/phi/cipher';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { decrypted, rawProfiles, rings, type RawProfile } from './helpers';

const SIZES = { patients: 30, assessmentsPerPatient: 1, organizations: 2, clinicians: 2, seed: 19 } as const;

/** Demo data's medical records are encrypted at rest, and as deterministic as everything else once decrypted. */
describe(`demo data PHI at rest (${testBackend()})`, () => {
  const { ring } = rings();
  let a: TestDatabase;
  let b: TestDatabase;
  let rowsA: Map<string, RawProfile>;

  beforeAll(async () => {
    [a, b] = await Promise.all([openTestDatabase(), openTestDatabase()]);
    await generateDemoData(a.dataSource, { ...SIZES, phiKeys: ring('k1') });
    rowsA = await rawProfiles(a.dataSource);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('stores every patient’s three PHI columns as envelopes under the current key, the empty ones too', () => {
    expect(rowsA.size).toBe(SIZES.patients);
    for (const row of rowsA.values()) {
      for (const c of PHI_COLUMNS) {
        expect(Object.keys(JSON.parse(row[c]!)).sort()).toEqual(['ct', 'enc', 'iv', 'kid', 'tag']);
        expect(JSON.parse(row[c]!)).toMatchObject({ enc: 'A256GCM', kid: 'k1' });
      }
    }
    const values = [...rowsA.values()].map((row) => decrypted(ring('k1'), row));
    const some = (c: (typeof PHI_COLUMNS)[number]) => values.filter((v) => (v[c] as unknown[]).length > 0).length;
    // Some patients have a history, medications and allergies, some have none.
    for (const c of PHI_COLUMNS) {
      expect(some(c)).toBeGreaterThan(0);
      expect(some(c)).toBeLessThan(SIZES.patients);
    }
  });

  it('leaves no plaintext of the medical records in the stored rows', async () => {
    const words = new Set<string>();
    for (const row of rowsA.values()) {
      const v = decrypted(ring('k1'), row) as {
        medical_history: { condition: string; code: string }[];
        medications: { name: string }[];
        allergies: string[];
      };
      v.medical_history.forEach((h) => (words.add(h.condition), words.add(h.code)));
      v.medications.forEach((m) => words.add(m.name));
      v.allergies.forEach((x) => words.add(x));
    }
    expect(words.size).toBeGreaterThan(5);
    // The raw column text, as any SQL client would see it.
    const [{ text }] = await a.dataSource.query(
      `SELECT string_agg(concat_ws(' ', medical_history::text, medications::text, allergies::text), ' ') AS text FROM user_profiles`,
    );
    for (const word of words) expect(text).not.toContain(word);
  });

  it('gives the same records for the same seed under another key, with different ciphertexts', async () => {
    await generateDemoData(b.dataSource, { ...SIZES, phiKeys: ring('k2') });
    const rowsB = await rawProfiles(b.dataSource);
    expect([...rowsB.keys()]).toEqual([...rowsA.keys()]);
    for (const [userId, row] of rowsB) {
      expect(decrypted(ring('k2'), row)).toEqual(decrypted(ring('k1'), rowsA.get(userId)!));
      expect(row.medical_history).not.toBe(rowsA.get(userId)!.medical_history);
    }
    // Everything else in the profiles is identical.
    const rest = `SELECT to_jsonb(p) - '{medical_history,medications,allergies}'::text[] AS row FROM user_profiles p ORDER BY id`;
    expect(await b.dataSource.query(rest)).toEqual(await a.dataSource.query(rest));
  });
});
