import type { DataSource, EntityManager } from 'typeorm';
import { withMaintenanceContext } from '../db/context';

/**
 * Recomputes the analytics tables from assessments (seed §3.6, §9.3):
 *
 * - cohort_analysis_summary: REFRESH MATERIALIZED VIEW CONCURRENTLY (readers keep reading), or a plain
 *   REFRESH when the view has never been populated (CONCURRENTLY refuses that).
 * - daily_metrics: one row per (UTC day, organization) that has assessments or new users, upserted on
 *   (metric_date, organization_id); rows whose day and organization no longer have either are removed.
 *   Counts cover all non-deleted assessments created that day whatever their status; the averages
 *   (processing time, confidence, quality) are over the assessments that have the value; the risk
 *   distribution counts assessments by risk_level; active_users = distinct users with an assessment that
 *   day; new_users = users of the organization created that day.
 * - user_trends: per (user, pipeline) over the period [asOf - periodDays + 1, asOf] (UTC days, both ends
 *   included), from completed assessments with a risk score: assessment_count, avg_risk_score and
 *   slope = regr_slope(risk_score, days since period_start), the least-squares slope in risk points per day.
 *   risk_trend: 'worsening' when slope > 0.05, 'improving' when slope < -0.05, else 'stable' (0.05 points a
 *   day is 4.5 points over 90 days). With one assessment (or all at the same instant) slope and risk_trend
 *   are NULL. The slope column holds 6 decimals and at most +-99.999999 per day; steeper slopes (two
 *   assessments hours apart) are clamped to that. Upserted on (user_id, pipeline_type, period_end); rows of
 *   that period_end whose user and pipeline no longer have assessments in the period are removed.
 *
 * Each step is its own transaction, run as the table owner with the maintenance identity that the
 * row-level security policies admit (role 'system', all organizations): the view's query, too, is subject
 * to the policies of assessments when the owner is not a superuser.
 */

export interface RefreshOptions {
  /** Length of the user_trends period in days (default 90). */
  periodDays?: number;
  /** Last day of the user_trends period, YYYY-MM-DD (default: today, UTC). */
  asOf?: string;
  /** Called after each of the three steps. */
  onProgress?: (done: number, total: number) => void;
}

export interface RefreshSummary {
  cohortRows: number;
  /** 'concurrent' normally; 'full' when the view had never been populated. */
  cohortRefresh: 'concurrent' | 'full';
  dailyMetrics: number;
  dailyMetricsRemoved: number;
  userTrends: number;
  userTrendsRemoved: number;
  periodStart: string;
  periodEnd: string;
}

export const TREND_THRESHOLD = 0.05;

/** Stands in for a NULL organization in join keys (hash joins cannot match NULLs). */
const NO_ORG = '00000000-0000-0000-0000-000000000000';

export async function refreshAnalytics(ds: DataSource, opts: RefreshOptions = {}): Promise<RefreshSummary> {
  const periodDays = opts.periodDays ?? 90;
  if (!Number.isInteger(periodDays) || periodDays < 1 || periodDays > 3650) {
    throw new RangeError(`periodDays must be an integer from 1 to 3650, got ${periodDays}`);
  }
  const periodEnd = opts.asOf ?? new Date().toISOString().slice(0, 10);
  const endMs = Date.parse(`${periodEnd}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(periodEnd) || Number.isNaN(endMs)) {
    throw new RangeError(`asOf must be a date as YYYY-MM-DD, got ${periodEnd}`);
  }
  const periodStart = new Date(endMs - (periodDays - 1) * 86_400_000).toISOString().slice(0, 10);

  const cohort = await withMaintenanceContext(ds, refreshCohort);
  opts.onProgress?.(1, 3);
  const daily = await withMaintenanceContext(ds, refreshDailyMetrics);
  opts.onProgress?.(2, 3);
  const trends = await withMaintenanceContext(ds, (tx) => refreshUserTrends(tx, periodStart, periodEnd));
  opts.onProgress?.(3, 3);
  return {
    cohortRows: cohort.rows,
    cohortRefresh: cohort.mode,
    dailyMetrics: daily.upserted,
    dailyMetricsRemoved: daily.removed,
    userTrends: trends.upserted,
    userTrendsRemoved: trends.removed,
    periodStart,
    periodEnd,
  };
}

async function refreshCohort(tx: EntityManager): Promise<{ rows: number; mode: 'concurrent' | 'full' }> {
  const [view] = await tx.query(
    `SELECT ispopulated FROM pg_matviews WHERE schemaname = current_schema() AND matviewname = 'cohort_analysis_summary'`,
  );
  if (!view) throw new Error('cohort_analysis_summary does not exist (is the database migrated? run the migrate command)');
  const mode = view.ispopulated ? 'concurrent' : 'full';
  await tx.query(`REFRESH MATERIALIZED VIEW ${mode === 'concurrent' ? 'CONCURRENTLY ' : ''}cohort_analysis_summary`);
  const [{ n }] = await tx.query(`SELECT count(*)::int AS n FROM cohort_analysis_summary`);
  return { rows: n, mode };
}

async function refreshDailyMetrics(tx: EntityManager): Promise<{ upserted: number; removed: number }> {
  const pipelines = ['retinal', 'speech', 'cardiology', 'radiology', 'dermatology', 'cognitive'];
  const levels = ['low', 'moderate', 'high', 'critical'];
  const [row] = await tx.query(
    `WITH a AS (
       SELECT (created_at AT TIME ZONE 'UTC')::date AS day, organization_id AS org,
              COALESCE(organization_id, '${NO_ORG}'::uuid) AS org_key,
              count(*)::int AS total,
              ${pipelines.map((p) => `count(*) FILTER (WHERE pipeline_type = '${p}')::int AS ${p}`).join(',\n              ')},
              round(avg(processing_time_ms))::int AS avg_processing_time_ms,
              round(avg(confidence), 3) AS avg_confidence,
              round(avg(quality_score), 3) AS avg_quality_score,
              ${levels.map((l) => `count(*) FILTER (WHERE risk_level = '${l}')::int AS ${l}`).join(',\n              ')},
              count(DISTINCT user_id)::int AS active_users
         FROM assessments
        WHERE deleted_at IS NULL AND created_at IS NOT NULL
        GROUP BY 1, 2
     ), u AS (
       SELECT (created_at AT TIME ZONE 'UTC')::date AS day, organization_id AS org,
              COALESCE(organization_id, '${NO_ORG}'::uuid) AS org_key, count(*)::int AS new_users
         FROM users
        WHERE deleted_at IS NULL AND created_at IS NOT NULL
        GROUP BY 1, 2
     ), fresh AS (
       SELECT COALESCE(a.day, u.day) AS day, COALESCE(a.org_key, u.org_key) AS org_key,
              CASE WHEN a.day IS NOT NULL THEN a.org ELSE u.org END AS org,
              COALESCE(a.total, 0) AS total,
              ${pipelines.map((p) => `COALESCE(a.${p}, 0) AS ${p}`).join(', ')},
              a.avg_processing_time_ms, a.avg_confidence, a.avg_quality_score,
              ${levels.map((l) => `COALESCE(a.${l}, 0) AS ${l}`).join(', ')},
              COALESCE(a.active_users, 0) AS active_users, COALESCE(u.new_users, 0) AS new_users
         FROM a FULL JOIN u ON u.day = a.day AND u.org_key = a.org_key
     ), upserted AS (
       INSERT INTO daily_metrics (metric_date, organization_id, total_assessments,
              ${pipelines.map((p) => `${p}_count`).join(', ')},
              avg_processing_time_ms, avg_confidence, avg_quality_score,
              ${levels.map((l) => `${l}_risk_count`).join(', ')}, active_users, new_users)
       SELECT day, org, total, ${pipelines.join(', ')}, avg_processing_time_ms, avg_confidence, avg_quality_score,
              ${levels.join(', ')}, active_users, new_users
         FROM fresh
       ON CONFLICT (metric_date, organization_id) DO UPDATE SET
              total_assessments = EXCLUDED.total_assessments,
              ${pipelines.map((p) => `${p}_count = EXCLUDED.${p}_count`).join(', ')},
              avg_processing_time_ms = EXCLUDED.avg_processing_time_ms,
              avg_confidence = EXCLUDED.avg_confidence,
              avg_quality_score = EXCLUDED.avg_quality_score,
              ${levels.map((l) => `${l}_risk_count = EXCLUDED.${l}_risk_count`).join(', ')},
              active_users = EXCLUDED.active_users,
              new_users = EXCLUDED.new_users
       RETURNING 1
     ), removed AS (
       -- NOT IN over non-null keys: a hashed subplan, whatever the (possibly stale) row estimates say.
       DELETE FROM daily_metrics d
        WHERE (d.metric_date, COALESCE(d.organization_id, '${NO_ORG}'::uuid)) NOT IN (SELECT day, org_key FROM fresh)
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM upserted)::int AS upserted, (SELECT count(*) FROM removed)::int AS removed`,
  );
  return row;
}

async function refreshUserTrends(tx: EntityManager, periodStart: string, periodEnd: string): Promise<{ upserted: number; removed: number }> {
  const [row] = await tx.query(
    `WITH fit AS (
       SELECT user_id, pipeline_type, count(*)::int AS n, round(avg(risk_score), 2) AS avg_risk,
              regr_slope(risk_score::float8, extract(epoch FROM created_at - $1::timestamptz)::float8 / 86400.0) AS raw_slope
         FROM assessments
        WHERE deleted_at IS NULL AND status = 'completed' AND risk_score IS NOT NULL
          AND created_at >= $1::timestamptz AND created_at < $2::timestamptz
        GROUP BY user_id, pipeline_type
     ), t AS (
       -- GREATEST/LEAST skip NULLs, so the clamp must not see a missing slope.
       SELECT user_id, pipeline_type, n, avg_risk,
              CASE WHEN raw_slope IS NOT NULL THEN round(LEAST(GREATEST(raw_slope, -99.999999), 99.999999)::numeric, 6) END AS slope
         FROM fit
     ), upserted AS (
       INSERT INTO user_trends (user_id, pipeline_type, period_start, period_end, assessment_count, avg_risk_score, risk_trend, slope)
       SELECT user_id, pipeline_type, $3::date, $4::date, n, avg_risk,
              CASE WHEN slope IS NULL THEN NULL
                   WHEN slope < -$5::numeric THEN 'improving'
                   WHEN slope > $5::numeric THEN 'worsening'
                   ELSE 'stable' END,
              slope
         FROM t
       ON CONFLICT (user_id, pipeline_type, period_end) DO UPDATE SET
              period_start = EXCLUDED.period_start,
              assessment_count = EXCLUDED.assessment_count,
              avg_risk_score = EXCLUDED.avg_risk_score,
              risk_trend = EXCLUDED.risk_trend,
              slope = EXCLUDED.slope
       RETURNING 1
     ), removed AS (
       -- NOT IN over non-null keys: a hashed subplan, whatever the (possibly stale) row estimates say.
       DELETE FROM user_trends u
        WHERE u.period_end = $4::date
          AND (u.user_id, u.pipeline_type) NOT IN (SELECT user_id, pipeline_type FROM t)
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM upserted)::int AS upserted, (SELECT count(*) FROM removed)::int AS removed`,
    [
      `${periodStart}T00:00:00Z`,
      new Date(Date.parse(`${periodEnd}T00:00:00Z`) + 86_400_000).toISOString(),
      periodStart,
      periodEnd,
      TREND_THRESHOLD,
    ],
  );
  return row;
}
