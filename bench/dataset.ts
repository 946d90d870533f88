import type { DataSource } from 'typeorm';
import { withMaintenanceContext } from '../src/db/context';
import { migrate } from '../src/db/migrate';
import { generateDemoData } from '../src/demo/generator';
import { SUPPLEMENTS } from './supplements';

/** What the benchmark wants in the database at scale 1: 10k patients, 100k assessments, 1M biomarker values. */
export interface Targets {
  patients: number;
  assessmentsPerPatient: number;
  assessments: number;
  biomarkerValues: number;
}

export const ASSESSMENTS_PER_PATIENT = 10;

export function targetsFor(scale: number): Targets {
  const patients = Math.max(1, Math.round(10_000 * scale));
  return {
    patients,
    assessmentsPerPatient: ASSESSMENTS_PER_PATIENT,
    assessments: patients * ASSESSMENTS_PER_PATIENT,
    biomarkerValues: Math.max(1, Math.round(1_000_000 * scale)),
  };
}

export interface Counts {
  patients: number;
  assessments: number;
  biomarkerValues: number;
}

/** Rows of each kind, as the platform (a non-superuser owner sees nothing through FORCE ROW LEVEL SECURITY otherwise). */
export async function countRows(ds: DataSource): Promise<Counts> {
  const [row] = await withMaintenanceContext(ds, (tx) =>
    tx.query(`
      SELECT (SELECT count(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE r.name = 'patient') AS patients,
             (SELECT count(*) FROM assessments) AS assessments,
             (SELECT count(*) FROM biomarker_values) AS biomarker_values`),
  );
  return { patients: Number(row.patients), assessments: Number(row.assessments), biomarkerValues: Number(row.biomarker_values) };
}

export interface LoadReport {
  skipped: boolean;
  before: Counts;
  after: Counts;
  demo: { skipped: boolean; elapsedMs: number } | null;
  topUp: { inserted: number; elapsedMs: number } | null;
  analyzeMs: number | null;
  elapsedMs: number;
}

export interface LoadHooks {
  /** A phase starts (label, unit of its progress). */
  phase(label: string, unit: string): void;
  progress(done: number, total: number): void;
  /** The phase ended. */
  done(message: string): void;
}

/**
 * Brings the database to the targets: schema, then the deterministic demo dataset (10 assessments per
 * patient), then biomarker values topped up set-based to the target, then VACUUM ANALYZE. A database that
 * already holds the targets is left alone (the counts decide), so a second run loads nothing.
 */
export async function loadDataset(ds: DataSource, targets: Targets, seed: number, hooks: LoadHooks): Promise<LoadReport> {
  const started = Date.now();
  await migrate(ds);
  const before = await countRows(ds);
  const report: LoadReport = { skipped: false, before, after: before, demo: null, topUp: null, analyzeMs: null, elapsedMs: 0 };
  if (
    before.patients >= targets.patients &&
    before.assessments >= targets.assessments &&
    before.biomarkerValues >= targets.biomarkerValues
  ) {
    report.skipped = true;
    // A load interrupted between its last insert and ANALYZE would otherwise be measured without statistics.
    if (await neverAnalyzed(ds)) report.analyzeMs = await analyze(ds, hooks);
    report.elapsedMs = Date.now() - started;
    return report;
  }

  if (before.patients < targets.patients || before.assessments < targets.assessments) {
    hooks.phase(`demo data (${targets.patients} patients x ${targets.assessmentsPerPatient} assessments)`, 'assessments');
    const demo = await generateDemoData(ds, {
      patients: targets.patients,
      assessmentsPerPatient: targets.assessmentsPerPatient,
      seed,
      onProgress: (done, total) => hooks.progress(done, total),
    });
    report.demo = { skipped: demo.skipped, elapsedMs: demo.elapsedMs };
    hooks.done(
      demo.skipped
        ? 'demo data: this dataset is already present'
        : `demo data: ${demo.patients} patients, ${demo.assessments} assessments, ${demo.biomarkerValues} biomarker values, ` +
            `${demo.totalRows} rows in ${(demo.elapsedMs / 1000).toFixed(1)} s`,
    );
  }

  const mid = await countRows(ds);
  const missing = targets.biomarkerValues - mid.biomarkerValues;
  if (missing > 0) {
    const t0 = Date.now();
    hooks.phase(`biomarker top-up (+${missing})`, 'rows');
    const inserted = await topUpBiomarkers(ds, missing, seed, hooks);
    report.topUp = { inserted, elapsedMs: Date.now() - t0 };
    hooks.done(`biomarker top-up: ${inserted} rows in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  report.analyzeMs = await analyze(ds, hooks);
  report.after = await countRows(ds);
  report.elapsedMs = Date.now() - started;
  return report;
}

const BIG_TABLES = ['users', 'user_roles', 'user_profiles', 'assessments', 'biomarker_values', 'pipeline_stages', 'ai_explanations'];

async function neverAnalyzed(ds: DataSource): Promise<boolean> {
  const rows: { relname: string }[] = await ds.query(
    `SELECT relname FROM pg_stat_user_tables
      WHERE relname = ANY($1::text[]) AND last_analyze IS NULL AND last_autoanalyze IS NULL`,
    [BIG_TABLES],
  );
  return rows.length > 0;
}

/**
 * VACUUM as well as ANALYZE: a freshly loaded table has no visibility map, so index-only scans would
 * visit the heap and autovacuum would start in the middle of a measurement.
 */
async function analyze(ds: DataSource, hooks: LoadHooks): Promise<number> {
  const t0 = Date.now();
  hooks.phase('VACUUM ANALYZE', 'tables');
  const tables = (await ds.query(`SELECT relname FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY relname`)) as { relname: string }[];
  let done = 0;
  for (const { relname } of tables) {
    await ds.query(`VACUUM (ANALYZE) "${relname.replace(/"/g, '""')}"`);
    hooks.progress(++done, tables.length);
  }
  const ms = Date.now() - t0;
  hooks.done(`VACUUM ANALYZE: ${tables.length} tables in ${(ms / 1000).toFixed(1)} s`);
  return ms;
}

/** Rows per INSERT statement of the top-up. */
const TOP_UP_CHUNK = 50_000;

/**
 * Adds `missing` biomarker values to completed assessments, set-based: supplementary measurements of
 * each pipeline (supplements.ts), one per assessment and name, values drawn deterministically from a
 * hash of (assessment, name) around the normal range and pushed the worse way by the assessment's risk.
 * Every assessment gets its first supplement before any gets its second, and so on, so the extra rows
 * spread evenly. Ids are md5(assessment/name), so the rows are the same on every database and a repeat
 * cannot duplicate one (ON CONFLICT DO NOTHING).
 *
 * One transaction, as the owner with the platform identity. The ownership trigger is disabled for it
 * (transactional DDL, undone at commit): for every assessment it would otherwise bump the version of the
 * report (an UPDATE that archives the DiagnosticReport and Provenance projections into resource_history
 * and writes an audit row), which models a biomarker added after the fact; these rows stand for
 * measurements written with their assessment. user_id and organization_id are copied here instead.
 */
export async function topUpBiomarkers(ds: DataSource, missing: number, seed: number, hooks: LoadHooks): Promise<number> {
  return withMaintenanceContext(ds, async (tx) => {
    await tx.query(`ALTER TABLE biomarker_values DISABLE TRIGGER biomarker_values_copy_owner`);
    await tx.query(
      `CREATE TEMP TABLE bench_supplements ON COMMIT DROP AS
         SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[],
                              $8::int[], $9::int[], $10::numeric[], $11::numeric[])
                AS s(pipeline, ord, name, category, unit, low, high, decimals, dir, lim_lo, lim_hi)`,
      [
        SUPPLEMENTS.map((s) => s.pipeline),
        SUPPLEMENTS.map((s) => s.ord),
        SUPPLEMENTS.map((s) => s.name),
        SUPPLEMENTS.map((s) => s.category),
        SUPPLEMENTS.map((s) => s.unit),
        SUPPLEMENTS.map((s) => s.low),
        SUPPLEMENTS.map((s) => s.high),
        SUPPLEMENTS.map((s) => s.decimals),
        SUPPLEMENTS.map((s) => (s.worse === 'up' ? 1 : -1)),
        SUPPLEMENTS.map((s) => s.limits[0]),
        SUPPLEMENTS.map((s) => s.limits[1]),
      ],
    );
    // The first `missing` (assessment, supplement) pairs not yet present, numbered for chunking.
    await tx.query(
      `CREATE TEMP TABLE bench_topup ON COMMIT DROP AS
         SELECT row_number() OVER (ORDER BY x.ord, x.h) AS rn, x.*
           FROM (SELECT s.*, a.id AS assessment_id, a.user_id, a.organization_id, a.completed_at,
                        a.confidence AS a_confidence, COALESCE(a.risk_score, 0) AS risk_score,
                        md5(a.id::text || '/' || s.name) AS h
                   FROM assessments a JOIN bench_supplements s ON s.pipeline = a.pipeline_type
                  WHERE a.status = 'completed' AND a.completed_at IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM biomarker_values b WHERE b.id = md5(a.id::text || '/' || s.name)::uuid)
                  ORDER BY s.ord, h
                  LIMIT $1) x`,
      [missing],
    );
    await tx.query(`CREATE INDEX ON bench_topup (rn)`);
    const [{ n }] = await tx.query(`SELECT count(*) AS n FROM bench_topup`);
    const planned = Number(n);
    if (planned < missing) {
      throw new Error(
        `biomarker top-up: only ${planned} supplementary values fit the completed assessments, ${missing} needed ` +
          `(add names to bench/supplements.ts)`,
      );
    }
    let inserted = 0;
    hooks.progress(0, planned);
    for (let lo = 1; lo <= planned; lo += TOP_UP_CHUNK) {
      const result = await tx.queryRunner!.query(
        `INSERT INTO biomarker_values (id, assessment_id, user_id, organization_id, biomarker_name, biomarker_category, value,
                                       unit, normal_range_min, normal_range_max, status, confidence, percentile, created_at)
         SELECT t.h::uuid, t.assessment_id, t.user_id, t.organization_id, t.name, t.category, v.value,
                t.unit, t.low, t.high,
                CASE WHEN v.value BETWEEN t.low AND t.high THEN 'normal'
                     WHEN v.value BETWEEN t.low - 0.15 * (t.high - t.low) AND t.high + 0.15 * (t.high - t.low) THEN 'borderline'
                     ELSE 'abnormal' END,
                round(LEAST(0.999, GREATEST(0.5, COALESCE(t.a_confidence, 0.9) + 0.06 * (v.u1 - 0.5))), 3),
                round(100 * (v.u1 + v.u2 + v.u3) / 3)::smallint,
                t.completed_at
           FROM bench_topup t
          CROSS JOIN LATERAL (
                SELECT u.u1, u.u2, u.u3,
                       round(LEAST(t.lim_hi, GREATEST(t.lim_lo,
                             (t.low + t.high) / 2
                             + 0.22 * (t.high - t.low) * (u.u1 + u.u2 + u.u3 - 1.5) * 2
                             + t.dir * GREATEST(0, t.risk_score / 100 - 0.3) * 0.9 * (t.high - t.low)))::numeric, t.decimals) AS value
                  FROM (SELECT (hh & 65535) / 65535.0 AS u1, ((hh >> 16) & 65535) / 65535.0 AS u2,
                               ((hh >> 32) & 65535) / 65535.0 AS u3
                          FROM (SELECT hashtextextended(t.h, $3) AS hh) q) u) v
          WHERE t.rn BETWEEN $1 AND $2
         ON CONFLICT (id) DO NOTHING`,
        [lo, Math.min(planned, lo + TOP_UP_CHUNK - 1), seed],
        true,
      );
      inserted += Number(result.affected ?? 0);
      hooks.progress(Math.min(planned, lo + TOP_UP_CHUNK - 1), planned);
    }
    await tx.query(`ALTER TABLE biomarker_values ENABLE TRIGGER biomarker_values_copy_owner`);
    return inserted;
  });
}
