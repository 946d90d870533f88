import type { QueryRunner } from 'typeorm';

/**
 * Bulk inserts for the demo data: one `INSERT ... SELECT * FROM unnest($1::uuid[], $2::text[], ...)`
 * per table per batch, so a batch of thousands of rows costs one round trip and one parse per table.
 * Rows are buffered column by column; every value is a parameter (never SQL text).
 *
 * ON CONFLICT DO NOTHING: every key of a demo row is derived from the seed, so a conflict means the same
 * row is already there (a re-run, or a run that stopped half-way), and skipping it is the right answer.
 */

/** A column and the Postgres type of its parameter array. */
export type ColumnSpec = readonly [name: string, type: string];

export interface TableSpec {
  readonly table: string;
  readonly columns: readonly ColumnSpec[];
}

const table = (name: string, columns: string): TableSpec => ({
  table: name,
  columns: columns
    .trim()
    .split(/\s*,\s*/)
    .map((c) => c.split(':') as unknown as ColumnSpec),
});

/** Insert order respects the foreign keys. biomarker_values.user_id/organization_id come from its trigger. */
export const TABLES = {
  organizations: table('organizations', `id:uuid, name:text, type:text, email:text, phone:text, address:jsonb,
    settings:jsonb, is_active:bool, subscription_tier:text, created_at:timestamptz, updated_at:timestamptz`),
  users: table('users', `id:uuid, clerk_user_id:text, email:text, email_verified:bool, username:text, first_name:text,
    last_name:text, date_of_birth:date, gender:text, organization_id:uuid, is_active:bool, is_verified:bool,
    created_at:timestamptz, updated_at:timestamptz, last_login_at:timestamptz`),
  user_profiles: table('user_profiles', `id:uuid, user_id:uuid, age:int4, fitzpatrick_type:int2, ethnicity:text,
    medical_history:jsonb, medications:jsonb, allergies:jsonb, language:text, timezone:text, consent_research:bool,
    consent_data_sharing:bool, created_at:timestamptz, updated_at:timestamptz`),
  user_roles: table('user_roles', `id:uuid, user_id:uuid, role_id:int4, organization_id:uuid, granted_at:timestamptz`),
  assessments: table('assessments', `id:uuid, session_id:text, user_id:uuid, organization_id:uuid, pipeline_type:text,
    pipeline_version:text, risk_score:numeric, risk_level:text, confidence:numeric, status:text, current_stage:text,
    processing_time_ms:int4, quality_score:numeric, requires_review:bool, review_reason:text, results:jsonb,
    created_at:timestamptz, completed_at:timestamptz, updated_at:timestamptz`),
  pipeline_stages: table('pipeline_stages', `id:uuid, assessment_id:uuid, stage_name:text, stage_index:int2, status:text,
    started_at:timestamptz, completed_at:timestamptz, duration_ms:int4, error_code:text, error_message:text, metadata:jsonb`),
  biomarker_values: table('biomarker_values', `id:uuid, assessment_id:uuid, biomarker_name:text, biomarker_category:text,
    value:numeric, unit:text, normal_range_min:numeric, normal_range_max:numeric, status:text, confidence:numeric,
    percentile:int2, created_at:timestamptz`),
  retinal_results: table('retinal_results', `id:uuid, assessment_id:uuid, dr_grade:int2, dr_severity:text,
    eye_laterality:text, image_quality:text, four_two_one_met:bool, hemorrhages_4_quadrants:bool,
    venous_beading_2_quadrants:bool, irma_1_quadrant:bool, dme_present:bool, dme_severity:text, vessel_density:numeric,
    av_ratio:numeric, tortuosity_index:numeric, hemorrhage_count:int4, microaneurysm_count:int4,
    exudate_area_percent:numeric, created_at:timestamptz`),
  speech_results: table('speech_results', `id:uuid, assessment_id:uuid, duration_seconds:numeric, sample_rate:int4,
    audio_quality_score:numeric, jitter:numeric, shimmer:numeric, hnr:numeric, cpps:numeric, speech_rate:numeric,
    pause_ratio:numeric, voice_tremor:numeric, articulation_clarity:numeric, prosody_variation:numeric,
    fluency_score:numeric, parkinsons_probability:numeric, cognitive_decline_probability:numeric, created_at:timestamptz`),
  cardiology_results: table('cardiology_results', `id:uuid, assessment_id:uuid, rhythm_classification:text,
    heart_rate_bpm:int2, regularity:text, r_peaks_detected:int4, rmssd_ms:numeric, sdnn_ms:numeric,
    pnn50_percent:numeric, pr_interval_ms:int2, qrs_duration_ms:int2, qt_interval_ms:int2, qtc_ms:int2,
    arrhythmia_detected:bool, arrhythmia_types:jsonb, signal_quality_score:numeric, created_at:timestamptz`),
  radiology_results: table('radiology_results', `id:uuid, assessment_id:uuid, modality_type:text, primary_condition:text,
    primary_probability:numeric, primary_severity:text, findings:jsonb, lungs_status:text, heart_status:text,
    image_quality:text, quality_score:numeric, created_at:timestamptz`),
  dermatology_results: table('dermatology_results', `id:uuid, assessment_id:uuid, primary_classification:text,
    melanoma_suspicion:text, asymmetry_score:numeric, border_score:numeric, color_score:numeric, diameter_mm:numeric,
    evolution_score:numeric, body_location:text, fitzpatrick_type:int2, image_quality:text, lesion_centered:bool,
    created_at:timestamptz`),
  cognitive_results: table('cognitive_results', `id:uuid, assessment_id:uuid, overall_risk_score:numeric, risk_level:text,
    confidence_score:numeric, attention_score:numeric, memory_score:numeric, executive_function_score:numeric,
    processing_speed_score:numeric, tasks_completed:int4, valid_tasks:int4, fatigue_index:numeric,
    consistency_score:numeric, created_at:timestamptz`),
  ai_explanations: table('ai_explanations', `id:uuid, assessment_id:uuid, explanation_text:text, voice_generated:bool,
    voice_url:text, voice_duration_ms:int4, model_used:text, tokens_used:int4, generation_time_ms:int4,
    created_at:timestamptz`),
} as const;

export type TableName = keyof typeof TABLES;
/** A row to insert: column name -> value (JSON columns take a JSON string; absent means NULL). */
export type Row = Record<string, string | number | boolean | null | undefined>;

/** Rows of one table, kept as one array per column. */
export class RowBuffer {
  readonly columns: unknown[][];
  length = 0;

  constructor(readonly spec: TableSpec) {
    this.columns = spec.columns.map(() => []);
  }

  push(row: Row): void {
    const cols = this.spec.columns;
    for (let i = 0; i < cols.length; i++) {
      const v = row[cols[i][0]];
      this.columns[i].push(v === undefined ? null : v);
    }
    this.length++;
  }

  /** Inserts the buffered rows (skipping any already present) and empties the buffer; returns the rows inserted. */
  async flush(q: QueryRunner): Promise<number> {
    if (this.length === 0) return 0;
    const names = this.spec.columns.map(([name]) => name).join(', ');
    const arrays = this.spec.columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
    const sql = `INSERT INTO ${this.spec.table} (${names}) SELECT * FROM unnest(${arrays}) ON CONFLICT DO NOTHING`;
    const result = await q.query(sql, this.columns, true);
    for (const column of this.columns) column.length = 0;
    this.length = 0;
    return result.affected ?? 0;
  }
}

/** One buffer per table, flushed together in foreign-key order. */
export class Batch {
  readonly buffers: { [K in TableName]: RowBuffer };

  constructor() {
    this.buffers = Object.fromEntries(
      Object.entries(TABLES).map(([name, spec]) => [name, new RowBuffer(spec)]),
    ) as { [K in TableName]: RowBuffer };
  }

  add(table: TableName, row: Row): void {
    this.buffers[table].push(row);
  }

  get size(): number {
    let n = 0;
    for (const buffer of Object.values(this.buffers)) n += buffer.length;
    return n;
  }

  /** Flushes every table; returns rows inserted per table. */
  async flush(q: QueryRunner): Promise<Record<TableName, number>> {
    const inserted = {} as Record<TableName, number>;
    for (const name of Object.keys(TABLES) as TableName[]) inserted[name] = await this.buffers[name].flush(q);
    return inserted;
  }
}
