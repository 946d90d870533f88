import crypto from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { conflict } from '../fhir/outcomes';
import { clientErrorOf } from './db-errors';
import type { AssessmentOwner, BiomarkerInput, IngestResult, NormalizedDocument, PatientReference, PipelineStageInput, ResultDocument } from '../../mappings/pipeline-result';
import { MODALITIES } from './schemas';
import { parseResultDocument } from './validate';

/** A document to ingest; its patient may be left out when the caller has resolved it (the owner). */
export type IngestDocument = Omit<ResultDocument, 'patient'> & { patient?: PatientReference };

/**
 * Writes one result document as an assessment with its stages, biomarkers, modality row and
 * explanation, inside the caller's transaction `tx` (run it as the caller: withDbContext with
 * dbIdentity(access), READ COMMITTED, so row-level security applies and a concurrent duplicate is
 * seen once it commits). `owner` is the resolved patient and organization (resolvePatient).
 *
 * Idempotent by session_id: the insert is ON CONFLICT (session_id) DO NOTHING, so of any number of
 * concurrent deliveries of one session exactly one writes; the others wait for it and find it. A repeat
 * for the same patient and pipeline returns the stored assessment (created: false, nothing written);
 * anything else using the session, including an assessment of another organization that row-level
 * security hides, is a 409 naming session_id.
 *
 * Validates the document first (every problem, 400/422), and turns whatever the database still refuses
 * into a 4xx. Throws OutcomeError; the caller's transaction must then roll back.
 */
export async function ingestResult(tx: EntityManager, input: IngestDocument, owner: AssessmentOwner): Promise<IngestResult> {
  const doc = parseResultDocument({ ...input, patient: input.patient ?? { id: owner.patientId } });
  const biomarkerIds = assignIds(doc.biomarkers);
  try {
    const assessmentId = await insertAssessment(tx, doc, owner);
    if (assessmentId === null) return await repeatedDelivery(tx, doc, owner);
    await insertStages(tx, assessmentId, doc.stages);
    await insertBiomarkers(tx, assessmentId, doc.biomarkers, biomarkerIds, doc.completed_at ?? null);
    await insertResult(tx, assessmentId, doc);
    await insertExplanation(tx, assessmentId, doc);
    return { assessmentId, created: true, observationIds: biomarkerIds };
  } catch (err) {
    throw clientErrorOf(err, doc.biomarkers.flatMap((b, i) => (b.id ? [`biomarkers[${i}].id`] : [])));
  }
}

/**
 * Biomarker ids in document order: fixed ones as given, the others generated and handed out in
 * ascending order, so that a report lists its results (ordered by time, then id) as the pipeline did.
 */
function assignIds(biomarkers: readonly BiomarkerInput[]): string[] {
  const generated = biomarkers.filter((b) => !b.id).map(() => crypto.randomUUID()).sort();
  let next = 0;
  return biomarkers.map((b) => (b.id ? b.id.toLowerCase() : generated[next++]));
}

/** The last stage that started: the assessment's current_stage (VARCHAR(50), so at most 50 characters of it). */
function currentStage(stages: readonly PipelineStageInput[]): string | null {
  const started = [...stages].sort((a, b) => a.index - b.index).filter((s) => s.status !== 'pending');
  const name = started.at(-1)?.name;
  return name === undefined ? null : [...name].slice(0, 50).join('');
}

async function insertAssessment(tx: EntityManager, doc: NormalizedDocument, owner: AssessmentOwner): Promise<string | null> {
  const rows: { id: string }[] = await tx.query(
    `INSERT INTO assessments (id, session_id, user_id, organization_id, pipeline_type, pipeline_version, risk_score, risk_level,
                              confidence, status, current_stage, processing_time_ms, quality_score, requires_review,
                              review_reason, created_at, completed_at)
     VALUES (COALESCE($1::uuid, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, COALESCE($14, FALSE),
             $15, COALESCE($16::timestamptz, now()), $17)
     ON CONFLICT (session_id) DO NOTHING
     RETURNING id`,
    [
      doc.id ?? null, doc.session_id, owner.patientId, owner.organizationId, doc.pipeline, doc.pipeline_version,
      doc.risk_score ?? null, doc.risk_level ?? null, doc.confidence ?? null, doc.status, currentStage(doc.stages),
      doc.processing_time_ms ?? null, doc.quality_score ?? null, doc.requires_review ?? null, doc.review_reason ?? null,
      doc.created_at ?? null, doc.completed_at ?? null,
    ],
  );
  return rows[0]?.id ?? null;
}

/** The session is taken: the same delivery again, or a conflict. */
async function repeatedDelivery(tx: EntityManager, doc: NormalizedDocument, owner: AssessmentOwner): Promise<IngestResult> {
  const [existing]: { id: string; user_id: string; pipeline_type: string; deleted: boolean }[] = await tx.query(
    `SELECT id, user_id, pipeline_type, deleted_at IS NOT NULL AS deleted FROM assessments WHERE session_id = $1`,
    [doc.session_id],
  );
  if (!existing || existing.user_id !== owner.patientId || existing.pipeline_type !== doc.pipeline) {
    throw conflict(`session_id ${doc.session_id} is already used by another assessment`, ['session_id']);
  }
  if (existing.deleted) throw conflict(`session_id ${doc.session_id} was delivered before, and that assessment has been deleted`, ['session_id']);
  const results: { id: string }[] = await tx.query(`SELECT id FROM biomarker_values WHERE assessment_id = $1 ORDER BY created_at, id`, [existing.id]);
  return { assessmentId: existing.id, created: false, observationIds: results.map((r) => r.id) };
}

async function insertStages(tx: EntityManager, assessmentId: string, stages: readonly PipelineStageInput[]): Promise<void> {
  if (!stages.length) return;
  const column = <T>(pick: (s: PipelineStageInput) => T) => stages.map(pick);
  await tx.query(
    `INSERT INTO pipeline_stages (assessment_id, stage_name, stage_index, status, started_at, completed_at, duration_ms,
                                  error_code, error_message, metadata)
     SELECT $1, s.name, s.idx, s.status, s.started, s.completed, s.duration, s.code, s.message, COALESCE(s.metadata, '{}')
       FROM unnest($2::text[], $3::int2[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::int4[], $8::text[], $9::text[], $10::jsonb[])
            AS s(name, idx, status, started, completed, duration, code, message, metadata)`,
    [
      assessmentId,
      column((s) => s.name),
      column((s) => s.index),
      column((s) => s.status),
      column((s) => s.started_at ?? null),
      column((s) => s.completed_at ?? null),
      column((s) => s.duration_ms ?? null),
      column((s) => s.error_code ?? null),
      column((s) => s.error_message ?? null),
      column((s) => (s.metadata == null ? null : JSON.stringify(s.metadata))),
    ],
  );
}

/** One statement for all of them; user_id and organization_id are copied from the assessment by its trigger. */
async function insertBiomarkers(
  tx: EntityManager,
  assessmentId: string,
  biomarkers: readonly BiomarkerInput[],
  ids: readonly string[],
  completedAt: string | null,
): Promise<void> {
  if (!biomarkers.length) return;
  const column = <T>(pick: (b: BiomarkerInput) => T) => biomarkers.map(pick);
  await tx.query(
    `INSERT INTO biomarker_values (id, assessment_id, biomarker_name, biomarker_category, value, unit, normal_range_min,
                                   normal_range_max, status, confidence, percentile, created_at)
     SELECT b.id, $1, b.name, b.category, b.value, b.unit, b.low, b.high, b.status, b.confidence, b.percentile,
            COALESCE($12::timestamptz, now())
       FROM unnest($2::uuid[], $3::text[], $4::text[], $5::numeric[], $6::text[], $7::numeric[], $8::numeric[], $9::text[],
                   $10::numeric[], $11::int2[]) AS b(id, name, category, value, unit, low, high, status, confidence, percentile)`,
    [
      assessmentId,
      ids,
      column((b) => b.name),
      column((b) => b.category ?? null),
      column((b) => b.value),
      column((b) => b.unit ?? null),
      column((b) => b.normal_range_min ?? null),
      column((b) => b.normal_range_max ?? null),
      column((b) => b.status ?? null),
      column((b) => b.confidence ?? null),
      column((b) => b.percentile ?? null),
      completedAt,
    ],
  );
}

/**
 * The modality row: the columns the document gives (absent or null: the column's default). Column
 * names come from the modality's schema, never from the request: the document was validated against
 * that schema, which admits no other field.
 */
async function insertResult(tx: EntityManager, assessmentId: string, doc: NormalizedDocument): Promise<void> {
  if (doc.result === undefined || doc.result === null) return;
  const { table, columns, json } = MODALITIES[doc.pipeline];
  const given = doc.result as Record<string, unknown>;
  const names = ['assessment_id'];
  const values: unknown[] = [assessmentId];
  const placeholders = ['$1'];
  for (const name of Object.keys(columns)) {
    const value = given[name];
    if (value === undefined || value === null) continue;
    const isJson = json.includes(name);
    values.push(isJson ? JSON.stringify(value) : value);
    names.push(name);
    placeholders.push(`$${values.length}${isJson ? '::jsonb' : ''}`);
  }
  await tx.query(`INSERT INTO ${table} (${names.join(', ')}) VALUES (${placeholders.join(', ')})`, values);
}

async function insertExplanation(tx: EntityManager, assessmentId: string, doc: NormalizedDocument): Promise<void> {
  const e = doc.explanation;
  if (!e) return;
  await tx.query(
    `INSERT INTO ai_explanations (assessment_id, explanation_text, voice_generated, voice_url, voice_duration_ms, model_used,
                                  tokens_used, generation_time_ms, created_at)
     VALUES ($1, $2, COALESCE($3, FALSE), $4, $5, $6, $7, $8, COALESCE($9::timestamptz, now()))`,
    [
      assessmentId, e.text, e.voice_generated ?? null, e.voice_url ?? null, e.voice_duration_ms ?? null, e.model_used ?? null,
      e.tokens_used ?? null, e.generation_time_ms ?? null, e.created_at ?? null,
    ],
  );
}
