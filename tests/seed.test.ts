import { PIPELINES, seedReferenceData } from '../src/db/seed';
import { openTestDatabase, type TestDatabase } from './support/database';

describe('seedReferenceData', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(() => db.close());

  const dump = async (): Promise<unknown[]> => [
    await db.dataSource.query('SELECT * FROM roles ORDER BY id'),
    await db.dataSource.query('SELECT * FROM model_registry ORDER BY id'),
  ];

  it('inserts the four roles of seed §7.2 and one active model for each of the six pipelines', async () => {
    expect(await seedReferenceData(db.dataSource)).toEqual({ roles: 4, models: 6 });

    const roles: { name: string; permissions: string[] }[] = await db.dataSource.query('SELECT name, permissions FROM roles ORDER BY name');
    expect(roles.map((r) => r.name)).toEqual(['admin', 'clinician', 'patient', 'researcher']);
    expect(roles.find((r) => r.name === 'clinician')!.permissions).toEqual([
      'view_all_assessments',
      'create_assessment',
      'review_assessments',
    ]);

    const models: Record<string, unknown>[] = await db.dataSource.query(
      `SELECT pipeline_type, model_name, version, framework, accuracy::float8 AS accuracy, precision_score::float8 AS p,
              recall_score::float8 AS r, f1_score::float8 AS f1, is_active, deployed_at
         FROM model_registry ORDER BY pipeline_type`,
    );
    expect(models.map((m) => m.pipeline_type)).toEqual([...PIPELINES].sort());
    for (const m of models) {
      expect(m).toMatchObject({ is_active: true });
      expect(m.framework).toEqual(expect.any(String));
      expect(m.deployed_at).toBeInstanceOf(Date);
      for (const metric of ['accuracy', 'p', 'r', 'f1'] as const) {
        expect(m[metric]).toBeGreaterThan(0.8);
        expect(m[metric]).toBeLessThan(1);
      }
      // f1 is the harmonic mean of precision and recall.
      const p = m.p as number;
      const r = m.r as number;
      expect(m.f1).toBeCloseTo((2 * p * r) / (p + r), 3);
    }
    // Seed §7.2's four models keep their names, versions and accuracy.
    expect(models.find((m) => m.pipeline_type === 'retinal')).toMatchObject({ model_name: 'DR Classifier v4', version: '4.0.0', accuracy: 0.93 });
    expect(models.find((m) => m.pipeline_type === 'cardiology')).toMatchObject({ model_name: 'ECG Analyzer', version: '2.1.0', accuracy: 0.998 });
  });

  it('changes nothing when run again: same row counts, same content', async () => {
    const before = await dump();
    expect(await seedReferenceData(db.dataSource)).toEqual({ roles: 0, models: 0 });
    expect(await seedReferenceData(db.dataSource)).toEqual({ roles: 0, models: 0 });
    expect(await dump()).toEqual(before);
  });

  it('leaves an operator\'s later changes alone', async () => {
    await db.dataSource.query(`UPDATE model_registry SET is_active = false WHERE pipeline_type = 'speech'`);
    await seedReferenceData(db.dataSource);
    const [row] = await db.dataSource.query(`SELECT is_active FROM model_registry WHERE pipeline_type = 'speech'`);
    expect(row.is_active).toBe(false);
  });
});
