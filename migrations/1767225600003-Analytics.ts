import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Seed §9.3's cohort view. Its unique index treats a NULL organization as one group, so REFRESH ... CONCURRENTLY works. */
export class Analytics1767225600003 implements MigrationInterface {
  name = 'Analytics1767225600003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE MATERIALIZED VIEW cohort_analysis_summary AS
      SELECT organization_id,
             pipeline_type,
             date_trunc('month', created_at AT TIME ZONE 'UTC')::date AS month,
             COUNT(*) AS assessment_count,
             AVG(risk_score) AS avg_risk,
             PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY risk_score) AS median_risk
        FROM assessments
       WHERE status = 'completed' AND deleted_at IS NULL
       GROUP BY 1, 2, 3;

      CREATE UNIQUE INDEX idx_cohort_analysis_summary_key
        ON cohort_analysis_summary (organization_id, pipeline_type, month) NULLS NOT DISTINCT;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP MATERIALIZED VIEW IF EXISTS cohort_analysis_summary`);
  }
}
