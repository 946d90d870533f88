import type { DataSource } from 'typeorm';
import { refreshAnalytics, type RefreshSummary } from '../src/analytics/refresh';
import { generateDemoData } from '../src/demo/generator';
import { openTestDatabase, type TestDatabase } from './support/database';

const AS_OF = '2025-12-31';

const COHORT_DIRECT = `
  SELECT organization_id, pipeline_type, date_trunc('month', created_at AT TIME ZONE 'UTC')::date::text AS month,
         count(*)::int AS assessment_count, avg(risk_score)::text AS avg_risk,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY risk_score) AS median_risk
    FROM assessments
   WHERE status = 'completed' AND deleted_at IS NULL
   GROUP BY 1, 2, 3
   ORDER BY 1, 2, 3`;
const COHORT_VIEW = `
  SELECT organization_id, pipeline_type, month::text AS month, assessment_count::int AS assessment_count,
         avg_risk::text AS avg_risk, median_risk
    FROM cohort_analysis_summary
   ORDER BY 1, 2, 3`;

async function addUser(ds: DataSource, organizationId: string): Promise<string> {
  const [{ id }] = await ds.query(
    `INSERT INTO users (first_name, last_name, organization_id, created_at) VALUES ('Trend', 'Series', $1, '2025-06-01T08:00:00Z') RETURNING id`,
    [organizationId],
  );
  return id;
}

async function addAssessment(
  ds: DataSource,
  a: { userId: string; organizationId: string; pipeline: string; risk: number; at: string },
): Promise<string> {
  const [{ id }] = await ds.query(
    `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type, risk_score, risk_level, confidence,
                              status, processing_time_ms, quality_score, created_at, completed_at)
     VALUES ('test_' || gen_random_uuid(), $1, $2, $3, $4, 'moderate', 0.9, 'completed', 1000, 0.95, $5, $5::timestamptz + interval '5 seconds')
     RETURNING id`,
    [a.userId, a.organizationId, a.pipeline, a.risk, a.at],
  );
  return id;
}

/** Least-squares slope of y against x, computed here independently of Postgres. */
function leastSquaresSlope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxy / sxx;
}

describe('refreshAnalytics', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let org: string;
  let trendUser: string;
  let summary: RefreshSummary;

  beforeAll(async () => {
    db = await openTestDatabase();
    ds = db.dataSource;
    const demo = await generateDemoData(ds, { patients: 30, assessmentsPerPatient: 6, seed: 5, organizations: 2, clinicians: 3 });
    org = demo.organizationIds[0];
    trendUser = await addUser(ds, org);
    const series: [string, number[]][] = [
      ['retinal', [10, 20, 30]], // rising by 10 a day
      ['speech', [30, 20, 10]], // falling by 10 a day
      ['cardiology', [20, 20, 20]], // flat
    ];
    for (const [pipeline, risks] of series) {
      for (const [i, risk] of risks.entries()) {
        await addAssessment(ds, { userId: trendUser, organizationId: org, pipeline, risk, at: `2025-12-${28 + i}T10:00:00Z` });
      }
    }
    await addAssessment(ds, { userId: trendUser, organizationId: org, pipeline: 'dermatology', risk: 40, at: '2025-12-20T10:00:00Z' });
    summary = await refreshAnalytics(ds, { asOf: AS_OF, periodDays: 365 });
  }, 120_000);
  afterAll(() => db.close());

  it('refreshes cohort_analysis_summary to what a direct GROUP BY says', async () => {
    expect(summary.cohortRefresh).toBe('concurrent');
    const direct = await ds.query(COHORT_DIRECT);
    expect(direct.length).toBeGreaterThan(10);
    expect(await ds.query(COHORT_VIEW)).toEqual(direct);
    expect(summary.cohortRows).toBe(direct.length);
  });

  it('picks up a newly completed assessment on the next (concurrent) refresh', async () => {
    const key = `SELECT assessment_count::int AS n FROM cohort_analysis_summary
                  WHERE organization_id = $1 AND pipeline_type = 'radiology' AND month = DATE '2025-12-01'`;
    const before: { n: number }[] = await ds.query(key, [org]);
    await addAssessment(ds, { userId: trendUser, organizationId: org, pipeline: 'radiology', risk: 42, at: '2025-12-30T12:00:00Z' });
    const again = await refreshAnalytics(ds, { asOf: AS_OF, periodDays: 365 });
    expect(again.cohortRefresh).toBe('concurrent');
    const after: { n: number }[] = await ds.query(key, [org]);
    expect(after[0].n).toBe((before[0]?.n ?? 0) + 1);
    expect(await ds.query(COHORT_VIEW)).toEqual(await ds.query(COHORT_DIRECT));
  });

  it('does a plain refresh when the view has never been populated', async () => {
    await ds.query('REFRESH MATERIALIZED VIEW cohort_analysis_summary WITH NO DATA');
    const again = await refreshAnalytics(ds, { asOf: AS_OF, periodDays: 365 });
    expect(again.cohortRefresh).toBe('full');
    expect(await ds.query(COHORT_VIEW)).toEqual(await ds.query(COHORT_DIRECT));
  });

  it('computes daily_metrics for a (day, organization) as a direct computation does', async () => {
    const [busiest] = await ds.query(
      `SELECT (created_at AT TIME ZONE 'UTC')::date::text AS day, organization_id AS org
         FROM assessments WHERE deleted_at IS NULL GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1`,
    );
    const rows: { pipeline_type: string; risk_level: string | null; user_id: string }[] = await ds.query(
      `SELECT pipeline_type, risk_level, user_id FROM assessments
        WHERE deleted_at IS NULL AND organization_id = $1 AND created_at >= $2::date AT TIME ZONE 'UTC'
          AND created_at < ($2::date + 1) AT TIME ZONE 'UTC'`,
      [busiest.org, busiest.day],
    );
    const countOf = (f: (r: (typeof rows)[number]) => boolean): number => rows.filter(f).length;
    const [averages] = await ds.query(
      `SELECT round(avg(processing_time_ms))::int AS avg_processing_time_ms, round(avg(confidence), 3)::text AS avg_confidence,
              round(avg(quality_score), 3)::text AS avg_quality_score
         FROM assessments
        WHERE deleted_at IS NULL AND organization_id = $1 AND (created_at AT TIME ZONE 'UTC')::date = $2::date`,
      [busiest.org, busiest.day],
    );
    const [{ new_users }] = await ds.query(
      `SELECT count(*)::int AS new_users FROM users
        WHERE deleted_at IS NULL AND organization_id = $1 AND (created_at AT TIME ZONE 'UTC')::date = $2::date`,
      [busiest.org, busiest.day],
    );
    const [stored] = await ds.query(
      `SELECT total_assessments, retinal_count, speech_count, cardiology_count, radiology_count, dermatology_count,
              cognitive_count, avg_processing_time_ms, avg_confidence::text AS avg_confidence,
              avg_quality_score::text AS avg_quality_score, low_risk_count, moderate_risk_count, high_risk_count,
              critical_risk_count, active_users, new_users
         FROM daily_metrics WHERE metric_date = $1::date AND organization_id = $2`,
      [busiest.day, busiest.org],
    );
    expect(stored).toEqual({
      total_assessments: rows.length,
      retinal_count: countOf((r) => r.pipeline_type === 'retinal'),
      speech_count: countOf((r) => r.pipeline_type === 'speech'),
      cardiology_count: countOf((r) => r.pipeline_type === 'cardiology'),
      radiology_count: countOf((r) => r.pipeline_type === 'radiology'),
      dermatology_count: countOf((r) => r.pipeline_type === 'dermatology'),
      cognitive_count: countOf((r) => r.pipeline_type === 'cognitive'),
      ...averages,
      low_risk_count: countOf((r) => r.risk_level === 'low'),
      moderate_risk_count: countOf((r) => r.risk_level === 'moderate'),
      high_risk_count: countOf((r) => r.risk_level === 'high'),
      critical_risk_count: countOf((r) => r.risk_level === 'critical'),
      active_users: new Set(rows.map((r) => r.user_id)).size,
      new_users,
    });

    // One row per (day, organization) with assessments or new users, and no others.
    const [{ expected }] = await ds.query(
      `SELECT count(*)::int AS expected FROM (
         SELECT (created_at AT TIME ZONE 'UTC')::date, organization_id FROM assessments WHERE deleted_at IS NULL
         UNION
         SELECT (created_at AT TIME ZONE 'UTC')::date, organization_id FROM users WHERE deleted_at IS NULL) k`,
    );
    const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM daily_metrics');
    expect(n).toBe(expected);
    // The trend user was created on 2025-06-01.
    const [created] = await ds.query(
      `SELECT new_users FROM daily_metrics WHERE metric_date = DATE '2025-06-01' AND organization_id = $1`,
      [org],
    );
    expect(created.new_users).toBeGreaterThanOrEqual(1);
  });

  it('gives a rising series a worsening trend, a falling one improving and a flat one stable, with the exact slope', async () => {
    const rows: Record<string, unknown>[] = await ds.query(
      `SELECT pipeline_type, period_start::text AS period_start, period_end::text AS period_end, assessment_count,
              avg_risk_score::text AS avg_risk_score, risk_trend, slope::text AS slope
         FROM user_trends WHERE user_id = $1 ORDER BY pipeline_type`,
      [trendUser],
    );
    const common = { period_start: '2025-01-01', period_end: AS_OF };
    expect(rows).toEqual([
      { pipeline_type: 'cardiology', ...common, assessment_count: 3, avg_risk_score: '20.00', risk_trend: 'stable', slope: '0.000000' },
      // one assessment: no slope, no trend
      { pipeline_type: 'dermatology', ...common, assessment_count: 1, avg_risk_score: '40.00', risk_trend: null, slope: null },
      { pipeline_type: 'radiology', ...common, assessment_count: 1, avg_risk_score: '42.00', risk_trend: null, slope: null },
      { pipeline_type: 'retinal', ...common, assessment_count: 3, avg_risk_score: '20.00', risk_trend: 'worsening', slope: '10.000000' },
      { pipeline_type: 'speech', ...common, assessment_count: 3, avg_risk_score: '20.00', risk_trend: 'improving', slope: '-10.000000' },
    ]);
  });

  it("computes a demo patient's slope as an independent least-squares fit does", async () => {
    const [pick] = await ds.query(
      `SELECT user_id, pipeline_type, slope::float8 AS slope, risk_trend FROM user_trends
        WHERE period_end = $1 AND assessment_count >= 3 AND user_id <> $2 ORDER BY abs(slope) DESC, user_id LIMIT 1`,
      [AS_OF, trendUser],
    );
    expect(pick).toBeDefined();
    const points: { at: Date; risk: string }[] = await ds.query(
      `SELECT created_at AS at, risk_score AS risk FROM assessments
        WHERE user_id = $1 AND pipeline_type = $2 AND status = 'completed' AND deleted_at IS NULL
          AND created_at >= '2025-01-01T00:00:00Z' AND created_at < '2026-01-01T00:00:00Z'`,
      [pick.user_id, pick.pipeline_type],
    );
    const slope = leastSquaresSlope(points.map((p) => [p.at.getTime() / 86_400_000, Number(p.risk)]));
    expect(pick.slope).toBeCloseTo(slope, 5);
    expect(pick.risk_trend).toBe(slope > 0.05 ? 'worsening' : slope < -0.05 ? 'improving' : 'stable');
  });

  it('updates and removes trends and daily metrics whose assessments are gone', async () => {
    const day = `SELECT cardiology_count FROM daily_metrics WHERE metric_date = DATE '2025-12-28' AND organization_id = $1`;
    const [before] = await ds.query(day, [org]);
    const lonely = await addAssessment(ds, { userId: trendUser, organizationId: org, pipeline: 'cognitive', risk: 5, at: '2022-06-15T09:00:00Z' });
    await refreshAnalytics(ds, { asOf: AS_OF, periodDays: 365 });
    const lonelyDay = `SELECT total_assessments FROM daily_metrics WHERE metric_date = DATE '2022-06-15' AND organization_id = $1`;
    expect(await ds.query(lonelyDay, [org])).toEqual([{ total_assessments: 1 }]);

    await ds.query(`UPDATE assessments SET deleted_at = now() WHERE id = $1 OR (user_id = $2 AND pipeline_type = 'cardiology')`, [lonely, trendUser]);
    const again = await refreshAnalytics(ds, { asOf: AS_OF, periodDays: 365 });
    expect(again).toMatchObject({ dailyMetricsRemoved: 1, userTrendsRemoved: 1 });
    expect(await ds.query(lonelyDay, [org])).toEqual([]);
    const [after] = await ds.query(day, [org]);
    expect(after.cardiology_count).toBe(before.cardiology_count - 1);
    const rows: { pipeline_type: string }[] = await ds.query(`SELECT pipeline_type FROM user_trends WHERE user_id = $1`, [trendUser]);
    expect(rows.map((r) => r.pipeline_type).sort()).toEqual(['dermatology', 'radiology', 'retinal', 'speech']);

    // Nothing changed since: the next refresh removes nothing and keeps the counts.
    const steady = await refreshAnalytics(ds, { asOf: AS_OF, periodDays: 365 });
    expect(steady).toMatchObject({ dailyMetrics: again.dailyMetrics, dailyMetricsRemoved: 0, userTrends: again.userTrends, userTrendsRemoved: 0 });
  });

  it('rejects a bad period', async () => {
    await expect(refreshAnalytics(ds, { periodDays: 0 })).rejects.toThrow(/periodDays/);
    await expect(refreshAnalytics(ds, { asOf: '2025-13-45' })).rejects.toThrow(/asOf/);
  });
});
