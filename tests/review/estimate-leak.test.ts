import type { Express } from 'express';
import { backendToken, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertAssessment, insertOrganization, userWithRole } from '../support/fixtures';
import { caller } from '../support/search';

/**
 * REVIEW: _total=estimate is the planner's row estimate (src/search/query.ts:124 estimateRows), and the
 * planner's statistics cover every tenant. A leakproof operator such as text = may use them under
 * row-level security, so organization B learns how common a code is in organization A.
 */
describe(`REVIEW _total=estimate across tenants (${testBackend()})`, () => {
  let db: TestDatabase;
  let app: Express;

  beforeAll(async () => {
    db = await openTestDatabase();
    app = testApp(db);
  });
  afterAll(() => db.close());

  it("B's estimate for a code only A has is not larger than for a code nobody has", async () => {
    const sql = (t: string, p: unknown[] = []) => db.dataSource.query(t, p);
    const orgA = await insertOrganization(db.dataSource, 'A');
    const orgB = await insertOrganization(db.dataSource, 'B');
    const pa = await userWithRole(db.dataSource, orgA, 'PA', 'patient');
    const pb = await userWithRole(db.dataSource, orgB, 'PB', 'patient');
    const aa = await insertAssessment(db.dataSource, pa, orgA);
    const ab = await insertAssessment(db.dataSource, pb, orgB);
    await sql(`INSERT INTO biomarker_values (assessment_id, biomarker_name, value, unit) SELECT $1, 'secret_marker', g, '1' FROM generate_series(1, 3000) g`, [aa]);
    await sql(`INSERT INTO biomarker_values (assessment_id, biomarker_name, value, unit) SELECT $1, 'heart_rate', g, '1' FROM generate_series(1, 200) g`, [ab]);
    await sql(`ANALYZE biomarker_values; ANALYZE assessments`); // what autovacuum does on its own

    const b = caller(app, await backendToken(app, 'rv-est-b', await keyClient(db, 'rv-est-b', 'system/*.rs', orgB), 'system/*.rs'));
    const total = async (q: string) => (await b.get(`/fhir/Observation?${q}&_count=0`).expect(200)).body.total as number;
    const result = {
      accurateSecret: await total('code=secret_marker&_total=accurate'),
      estimateSecret: await total('code=secret_marker&_total=estimate'),
      estimateNobody: await total('code=nobody_has_this&_total=estimate'),
    };
    console.log(result);
    expect(result.accurateSecret).toBe(0);
    expect(result.estimateSecret).toBeLessThanOrEqual(result.estimateNobody); // actual: far larger (A's 3,000 rows show through)
  });
});
