import { modelVersion, PIPELINES, REFERENCE_MODELS, type Pipeline } from '../db/seed';
import { sampleBiomarkers, type SampledBiomarker } from './biomarkers';
import { CATALOG, riskLevel, type FailureSpec, type PipelineSpec } from './catalog';
import { DAY_MS, EPOCH, iso, type Patient } from './people';
import { clamp, round, type Random } from './random';
import { modalityRow, RESULT_TABLE } from './results';
import type { Batch } from './writer';

/**
 * One patient's assessments with everything hanging off them: pipeline_stages, biomarker_values, the
 * modality result row and an ai_explanations row (the last three for completed assessments only).
 *
 * Health model: a patient is followed in one to three pipelines ("programs"); in each the patient has a
 * baseline severity (mostly low) that drifts over time (improving, stable or worsening), and every
 * assessment samples its biomarkers around that severity. Status: about 93% completed (some flagged
 * requires_review), 3% failed, and a patient's latest assessment is occasionally still pending/processing.
 */

export interface PatientAssessmentStats {
  assessments: number;
  biomarkers: number;
  lastActivityMs: number;
}

interface Program {
  pipeline: Pipeline;
  baseline: number;
  /** Severity change per year. */
  drift: number;
}

const EXPLAINER_MODEL = 'medilens-explainer-2.1';

export function addPatientAssessments(
  batch: Batch,
  streams: { patient: Random; assessment: (j: number) => Random },
  patient: Patient,
  patientIndex: number,
  count: number,
): PatientAssessmentStats {
  const rng = streams.patient;
  const programs = choosePrograms(rng, patientIndex);
  const firstMs = patient.createdMs + DAY_MS / 2;
  const lastMs = EPOCH - DAY_MS / 4;
  const times = Array.from({ length: count }, () => Math.round(rng.uniform(firstMs, lastMs) / 1000) * 1000).sort((a, b) => a - b);
  const inFlight = rng.chance(0.04);
  const stats: PatientAssessmentStats = { assessments: 0, biomarkers: 0, lastActivityMs: patient.createdMs };

  for (let j = 0; j < count; j++) {
    const arng = streams.assessment(j);
    const program = j === 0 ? programs[0] : arng.weighted(programs.map((p, i) => [p, i === 0 ? 2 : 1] as const));
    const latest = j === count - 1;
    let createdMs = times[j];
    let status: 'completed' | 'failed' | 'processing' | 'pending' = 'completed';
    if (latest && inFlight) {
      status = arng.chance(0.75) ? 'processing' : 'pending';
      createdMs = EPOCH - arng.int(2, 40) * 60_000;
    } else if (arng.chance(0.03)) {
      status = 'failed';
    }
    const years = (createdMs - firstMs) / (365 * DAY_MS);
    const severity = clamp(program.baseline + program.drift * years + 0.04 * arng.normal(), 0, 1);
    stats.biomarkers += addAssessment(batch, arng, patient, program.pipeline, status, createdMs, severity);
    stats.assessments++;
    stats.lastActivityMs = Math.max(stats.lastActivityMs, createdMs);
  }
  return stats;
}

function choosePrograms(rng: Random, patientIndex: number): Program[] {
  // The primary program cycles through the pipelines, so every pipeline appears from six patients on.
  const primary = PIPELINES[patientIndex % PIPELINES.length];
  const others = PIPELINES.filter((p) => p !== primary && rng.chance(0.2)).slice(0, 2);
  return [primary, ...others].map((pipeline) => ({
    pipeline,
    baseline: 0.8 * rng.next() ** 2.5,
    drift: rng.weighted([[0, 55], [rng.uniform(0.1, 0.35), 25], [-rng.uniform(0.1, 0.3), 20]] as const),
  }));
}

/** Writes one assessment and its children; returns how many biomarker values it has. */
function addAssessment(
  batch: Batch,
  rng: Random,
  patient: Patient,
  pipeline: Pipeline,
  status: 'completed' | 'failed' | 'processing' | 'pending',
  createdMs: number,
  severity: number,
): number {
  const spec = CATALOG[pipeline];
  const id = rng.uuid();
  const quality = round(clamp(0.93 - 0.1 * Math.abs(rng.normal()), 0.4, 1), 3);
  const confidence = round(clamp(0.6 + 0.35 * quality + 0.04 * rng.normal(), 0.5, 0.995), 3);
  const run = addStages(batch, rng, spec, id, status, createdMs + rng.int(200, 3000));

  let biomarkers: SampledBiomarker[] = [];
  let riskScore: number | null = null;
  let review: string | null = null;
  if (status === 'completed') {
    biomarkers = sampleBiomarkers(pipeline, severity, confidence, rng);
    const abnormal = biomarkers.filter((x) => x.status === 'abnormal').length / biomarkers.length;
    const borderline = biomarkers.filter((x) => x.status === 'borderline').length / biomarkers.length;
    riskScore = round(clamp(100 * (0.04 + 0.7 * severity + 0.3 * abnormal + 0.1 * borderline) + 3 * rng.normal(), 0, 100), 2);
    review =
      confidence < 0.8 ? 'Model confidence below 0.80'
      : quality < 0.65 ? 'Input quality below threshold'
      : riskLevel(riskScore) === 'critical' && rng.chance(0.5) ? 'Critical risk: clinician confirmation required'
      : rng.chance(0.02) ? 'Random quality-assurance sample'
      : null;
  }
  const level = riskScore === null ? null : riskLevel(riskScore);
  const completedAt = run.completedMs === null ? null : iso(run.completedMs);
  const model = REFERENCE_MODELS.find((m) => m.pipeline === pipeline)!;

  batch.add('assessments', {
    id,
    session_id: `${pipeline}_${id.replace(/-/g, '')}`,
    user_id: patient.id,
    organization_id: patient.organizationId,
    pipeline_type: pipeline,
    pipeline_version: modelVersion(pipeline),
    risk_score: riskScore,
    risk_level: level,
    confidence: status === 'completed' ? confidence : null,
    status,
    current_stage: run.currentStage,
    processing_time_ms: run.processingMs,
    quality_score: status === 'pending' ? null : quality,
    requires_review: review !== null,
    review_reason: review,
    results: JSON.stringify(
      status === 'completed'
        ? {
            model: { name: model.modelName, version: model.version },
            biomarkers: biomarkers.length,
            abnormal: biomarkers.filter((x) => x.status === 'abnormal').map((x) => x.spec.name),
            borderline: biomarkers.filter((x) => x.status === 'borderline').map((x) => x.spec.name),
          }
        : status === 'failed'
          ? { error: run.error }
          : {},
    ),
    created_at: iso(createdMs),
    completed_at: completedAt,
    updated_at: iso(run.completedMs ?? run.lastChangeMs),
  });
  if (status !== 'completed') return 0;

  for (const x of biomarkers) {
    batch.add('biomarker_values', {
      id: rng.uuid(),
      assessment_id: id,
      biomarker_name: x.spec.name,
      biomarker_category: x.spec.category,
      value: x.value,
      unit: x.spec.unit,
      normal_range_min: x.spec.low,
      normal_range_max: x.spec.high,
      status: x.status,
      confidence: x.confidence,
      percentile: x.percentile,
      created_at: completedAt,
    });
  }
  const values = Object.fromEntries(biomarkers.map((x) => [x.spec.name, x.value]));
  batch.add(
    RESULT_TABLE[pipeline],
    modalityRow(pipeline, {
      rng, id: rng.uuid(), assessmentId: id, values, severity, quality, confidence,
      riskScore: riskScore!, riskLevel: level!, fitzpatrickType: patient.fitzpatrickType, createdAt: completedAt!,
    }),
  );
  addExplanation(batch, rng, spec, id, level!, riskScore!, biomarkers, run.completedMs!);
  return biomarkers.length;
}

interface StageRun {
  currentStage: string | null;
  processingMs: number | null;
  completedMs: number | null;
  lastChangeMs: number;
  error: { code: string; message: string } | null;
}

/** The pipeline's stages, run one after another from startMs with log-normal timings. */
function addStages(batch: Batch, rng: Random, spec: PipelineSpec, assessmentId: string, status: string, startMs: number): StageRun {
  const failure = status === 'failed' ? rng.pick(spec.failures) : null;
  const stopAt =
    failure !== null ? spec.stages.findIndex((st) => st.name === failure.stage)
    : status === 'processing' ? rng.int(1, spec.stages.length - 1)
    : status === 'pending' ? -1
    : spec.stages.length;
  const heaviest = spec.stages.reduce((a, st) => (st.ms > a.ms ? st : a)).name;
  const modelMetadata = JSON.stringify({ model_version: modelVersion(spec.pipeline) });
  let t = startMs;
  let current: string | null = null;
  for (let i = 0; i < spec.stages.length; i++) {
    const stage = spec.stages[i];
    const id = rng.uuid();
    const metadata = stage.name === heaviest ? modelMetadata : '{}';
    const stageRow = (status: string, startedMs: number | null, durationMs: number | null, error: FailureSpec | null) =>
      batch.add('pipeline_stages', {
        id, assessment_id: assessmentId, stage_name: stage.name, stage_index: i, status,
        started_at: startedMs === null ? null : iso(startedMs),
        completed_at: startedMs === null || durationMs === null ? null : iso(startedMs + durationMs),
        duration_ms: durationMs, error_code: error?.code ?? null, error_message: error?.message ?? null, metadata,
      });
    if (status === 'pending' || (status === 'processing' && i > stopAt)) {
      stageRow('pending', null, null, null);
      continue;
    }
    if (failure !== null && i > stopAt) break;
    current = stage.name;
    const duration = Math.max(5, Math.round(stage.ms * Math.exp(0.35 * rng.normal())));
    if (status === 'processing' && i === stopAt) {
      stageRow('running', t, null, null);
      continue;
    }
    const failed = failure !== null && i === stopAt;
    stageRow(failed ? 'failed' : 'completed', t, duration, failed ? failure : null);
    t += duration + (failed ? 0 : rng.int(2, 40));
  }
  return {
    currentStage: current,
    processingMs: status === 'completed' || status === 'failed' ? t - startMs : null,
    completedMs: status === 'completed' ? t : null,
    lastChangeMs: t,
    error: failure && { code: failure.code, message: failure.message },
  };
}

function addExplanation(
  batch: Batch,
  rng: Random,
  spec: PipelineSpec,
  assessmentId: string,
  level: string,
  riskScore: number,
  biomarkers: SampledBiomarker[],
  completedMs: number,
): void {
  const out = biomarkers.filter((x) => x.status !== 'normal').slice(0, 3);
  const findings =
    out.length === 0
      ? 'All measured biomarkers are within their normal ranges.'
      : `Outside the normal range: ${out
          .map((x) => `${x.spec.name.replace(/_/g, ' ')} ${x.value} ${x.spec.unit === '1' ? '' : x.spec.unit} (normal ${x.spec.low}-${x.spec.high}, ${x.status})`.replace(/ {2,}/g, ' '))
          .join('; ')}.`;
  const advice =
    level === 'low' ? 'No action is needed before your next routine check.'
    : level === 'moderate' ? 'Consider repeating this assessment in three months.'
    : 'Please discuss these results with your clinician soon.';
  const text = `Your ${spec.label} shows a ${level} overall risk (risk score ${riskScore} of 100). ${findings} ${advice}`;
  const generationMs = rng.int(700, 4200);
  const voice = rng.chance(0.35);
  const id = rng.uuid();
  batch.add('ai_explanations', {
    id,
    assessment_id: assessmentId,
    explanation_text: text,
    voice_generated: voice,
    voice_url: voice ? `https://media.medilens.example/explanations/${id}.mp3` : null,
    voice_duration_ms: voice ? text.split(' ').length * 380 : null,
    model_used: EXPLAINER_MODEL,
    tokens_used: Math.round(text.length / 4) + rng.int(120, 260),
    generation_time_ms: generationMs,
    created_at: iso(completedMs + generationMs),
  });
}
