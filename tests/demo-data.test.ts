import type { DataSource } from 'typeorm';
import { PIPELINES } from '../src/db/seed';
import { generateDemoData, type DemoSummary } from '../src/demo/generator';
import { openTestDatabase, type TestDatabase } from './support/database';

const SIZES = { patients: 24, assessmentsPerPatient: 5, organizations: 3, clinicians: 5 } as const;

/** Ordered dumps of the generated rows, ids and timestamps included. */
async function dump(ds: DataSource): Promise<Record<string, unknown[]>> {
  const tables = [
    'organizations', 'users', 'user_profiles', 'assessments', 'pipeline_stages', 'biomarker_values',
    'retinal_results', 'speech_results', 'cardiology_results', 'radiology_results', 'dermatology_results',
    'cognitive_results', 'ai_explanations',
  ];
  const out: Record<string, unknown[]> = {};
  for (const table of tables) out[table] = await ds.query(`SELECT * FROM ${table} ORDER BY id`);
  // role ids are SERIAL, so compare role names
  out.user_roles = await ds.query(
    `SELECT ur.id, ur.user_id, r.name, ur.organization_id, ur.granted_at FROM user_roles ur JOIN roles r ON r.id = ur.role_id ORDER BY ur.id`,
  );
  return out;
}

async function one<T = Record<string, unknown>>(ds: DataSource, sql: string, params: unknown[] = []): Promise<T> {
  const rows = await ds.query(sql, params);
  return rows[0] as T;
}

describe('generateDemoData', () => {
  let a: TestDatabase;
  let b: TestDatabase;
  let first: DemoSummary;
  let reference: Record<string, unknown[]>;

  beforeAll(async () => {
    [a, b] = await Promise.all([openTestDatabase(), openTestDatabase()]);
    first = await generateDemoData(a.dataSource, { ...SIZES, seed: 11 });
    reference = await dump(a.dataSource);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('reports what it wrote', () => {
    expect(first).toMatchObject({ skipped: false, organizations: 3, clinicians: 5, patients: 24, assessments: 120 });
    expect(first.organizationIds).toHaveLength(3);
    expect(first.biomarkerValues).toBe(reference.biomarker_values.length);
    expect(first.biomarkerValues).toBeGreaterThan(500);
  });

  it('is deterministic: the same seed into another database gives identical rows, ids and timestamps included', async () => {
    const second = await generateDemoData(b.dataSource, { ...SIZES, seed: 11 });
    expect(second).toMatchObject({ ...first, elapsedMs: expect.any(Number) });
    const copy = await dump(b.dataSource);
    for (const table of Object.keys(reference)) expect({ table, rows: copy[table] }).toEqual({ table, rows: reference[table] });
  });

  it('gives different data for a different seed (added next to the first dataset)', async () => {
    const other = await generateDemoData(b.dataSource, { ...SIZES, seed: 12 });
    expect(other).toMatchObject({ skipped: false, patients: 24, assessments: 120 });
    const ids = new Set((reference.assessments as { id: string }[]).map((r) => r.id));
    const all: { id: string; risk_score: string | null }[] = await b.dataSource.query('SELECT id, risk_score FROM assessments');
    const added = all.filter((r) => !ids.has(r.id));
    expect(added).toHaveLength(120);
    const scores = (rows: { risk_score: string | null }[]): string[] => rows.map((r) => r.risk_score ?? '').sort();
    expect(scores(added)).not.toEqual(scores(reference.assessments as { risk_score: string | null }[]));
  });

  it('covers all six pipelines, each completed assessment with its modality row, biomarkers and explanation', async () => {
    const ds = a.dataSource;
    for (const pipeline of PIPELINES) {
      const table = `${pipeline}_results`;
      const row = await one<{ completed: number; results: number; orphans: number }>(
        ds,
        `SELECT count(*) FILTER (WHERE a.status = 'completed')::int AS completed,
                count(r.id)::int AS results,
                count(r.id) FILTER (WHERE a.status <> 'completed' OR a.pipeline_type <> $1)::int AS orphans
           FROM assessments a LEFT JOIN ${table} r ON r.assessment_id = a.id
          WHERE a.pipeline_type = $1 OR r.id IS NOT NULL`,
        [pipeline],
      );
      expect({ pipeline, ...row, orphans: row.orphans }).toEqual({ pipeline, completed: row.results, results: row.results, orphans: 0 });
      expect(row.results).toBeGreaterThan(0);
    }
    const gaps = await one<{ without_biomarkers: number; without_explanation: number; incomplete_with_children: number }>(
      ds,
      `SELECT count(*) FILTER (WHERE a.status = 'completed' AND NOT EXISTS (SELECT 1 FROM biomarker_values b WHERE b.assessment_id = a.id))::int AS without_biomarkers,
              count(*) FILTER (WHERE a.status = 'completed' AND NOT EXISTS (SELECT 1 FROM ai_explanations e WHERE e.assessment_id = a.id))::int AS without_explanation,
              count(*) FILTER (WHERE a.status <> 'completed' AND EXISTS (SELECT 1 FROM biomarker_values b WHERE b.assessment_id = a.id))::int AS incomplete_with_children
         FROM assessments a`,
    );
    expect(gaps).toEqual({ without_biomarkers: 0, without_explanation: 0, incomplete_with_children: 0 });
    const statuses: { status: string; n: number }[] = await ds.query('SELECT status, count(*)::int AS n FROM assessments GROUP BY status');
    for (const { status } of statuses) expect(['completed', 'failed', 'processing', 'pending']).toContain(status);
    expect(statuses.find((s) => s.status === 'completed')!.n).toBeGreaterThan(0.85 * 120);
  });

  it("copies every biomarker value's owner from its assessment", async () => {
    const row = await one<{ n: number; mismatched: number }>(
      a.dataSource,
      `SELECT count(*)::int AS n,
              count(*) FILTER (WHERE b.user_id <> a.user_id OR b.organization_id IS DISTINCT FROM a.organization_id)::int AS mismatched
         FROM biomarker_values b JOIN assessments a ON a.id = b.assessment_id`,
    );
    expect(row).toEqual({ n: first.biomarkerValues, mismatched: 0 });
  });

  it('gives clinicians the clinician role in their organization, and patients the patient role', async () => {
    const rows: { role: string; users: number; matching: number }[] = await a.dataSource.query(
      `SELECT r.name AS role, count(DISTINCT u.id)::int AS users,
              count(DISTINCT u.id) FILTER (WHERE ur.organization_id = u.organization_id)::int AS matching
         FROM users u JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id
        GROUP BY r.name ORDER BY r.name`,
    );
    expect(rows).toEqual([
      { role: 'clinician', users: 5, matching: 5 },
      { role: 'patient', users: 24, matching: 24 },
    ]);
    const [{ n }] = await a.dataSource.query(
      `SELECT count(*)::int AS n FROM users u WHERE u.organization_id <> ALL($1::uuid[])`,
      [first.organizationIds],
    );
    expect(n).toBe(0);
  });

  it('keeps values within the CHECK constraints and consistent with each other', async () => {
    const ds = a.dataSource;
    const checks = await one<Record<string, number>>(
      ds,
      `SELECT
         (SELECT count(*) FROM assessments WHERE risk_score < 0 OR risk_score > 100 OR confidence < 0 OR confidence > 1)::int AS assessment_ranges,
         (SELECT count(*) FROM assessments WHERE status = 'completed' AND (risk_score IS NULL OR risk_level IS NULL OR completed_at IS NULL
                 OR completed_at < created_at OR processing_time_ms IS NULL))::int AS completed_incomplete,
         (SELECT count(*) FROM assessments WHERE risk_level <> CASE WHEN risk_score < 25 THEN 'low' WHEN risk_score < 50 THEN 'moderate'
                 WHEN risk_score < 75 THEN 'high' ELSE 'critical' END)::int AS risk_level_mismatch,
         (SELECT count(*) FROM biomarker_values WHERE percentile < 0 OR percentile > 100)::int AS percentile_range,
         (SELECT count(*) FROM biomarker_values WHERE (status = 'normal') <> (value BETWEEN normal_range_min AND normal_range_max)
                 OR status NOT IN ('normal', 'borderline', 'abnormal'))::int AS status_mismatch,
         (SELECT count(*) FROM biomarker_values WHERE unit NOT IN ('1', '%', 'ms', 's', '/min', 'Hz', 'dB', 'mm'))::int AS odd_units,
         (SELECT count(*) FROM user_profiles p JOIN users u ON u.id = p.user_id
           WHERE p.age <> date_part('year', age(DATE '2026-01-01', u.date_of_birth)) OR p.fitzpatrick_type NOT BETWEEN 1 AND 6)::int AS profile_mismatch,
         (SELECT count(*) FROM cardiology_results c JOIN biomarker_values b ON b.assessment_id = c.assessment_id AND b.biomarker_name = 'heart_rate'
           WHERE b.unit <> '/min' OR c.heart_rate_bpm <> round(b.value) OR c.heart_rate_bpm NOT BETWEEN 20 AND 300)::int AS heart_rate_mismatch,
         (SELECT count(*) FROM retinal_results r JOIN biomarker_values b ON b.assessment_id = r.assessment_id AND b.biomarker_name = 'vessel_density'
           WHERE r.vessel_density <> b.value OR r.dr_grade NOT BETWEEN 0 AND 4)::int AS retinal_mismatch,
         (SELECT count(*) FROM dermatology_results d JOIN assessments a ON a.id = d.assessment_id JOIN user_profiles p ON p.user_id = a.user_id
           WHERE d.fitzpatrick_type <> p.fitzpatrick_type)::int AS fitzpatrick_mismatch,
         (SELECT count(*) FROM pipeline_stages s JOIN assessments a ON a.id = s.assessment_id
           WHERE s.started_at < a.created_at OR s.completed_at < s.started_at OR (a.completed_at IS NOT NULL AND s.completed_at > a.completed_at))::int AS stage_times,
         (SELECT count(*) FROM assessments WHERE created_at >= TIMESTAMPTZ '2026-01-01 00:00:00Z' OR created_at < TIMESTAMPTZ '2023-12-01 00:00:00Z')::int AS outside_period`,
    );
    expect(checks).toEqual(Object.fromEntries(Object.keys(checks).map((k) => [k, 0])));
    const [{ pipelines }] = await ds.query(
      `SELECT count(DISTINCT pipeline_type)::int AS pipelines FROM biomarker_values b JOIN assessments a ON a.id = b.assessment_id`,
    );
    expect(pipelines).toBe(6);
  });

  it('skips a dataset that is already present, and completes one that was only partly written', async () => {
    const ds = a.dataSource;
    const again = await generateDemoData(ds, { ...SIZES, seed: 11 });
    expect(again).toMatchObject({ skipped: true, patients: 0, assessments: 0, biomarkerValues: 0, organizationIds: first.organizationIds });
    expect(await dump(ds)).toEqual(reference);

    // A run that stopped part-way: organizations and clinicians are there, most patients (with everything
    // of theirs) are not, among them the dataset's last patient (p23), whose presence marks completion.
    await ds.query(
      `DELETE FROM users WHERE id IN (
         SELECT u.id FROM users u JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id AND r.name = 'patient'
          ORDER BY (u.username IS NOT NULL AND u.username NOT LIKE '%.p23') DESC, u.id OFFSET 3)`,
    );
    const resumed = await generateDemoData(ds, { ...SIZES, seed: 11 });
    expect(resumed).toMatchObject({ skipped: false, organizations: 0, clinicians: 0, patients: 21 });
    expect(await dump(ds)).toEqual(reference);
  });
});
