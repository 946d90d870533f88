import crypto from 'node:crypto';
import type { Pipeline, ResultDocument } from '../../mappings/pipeline-result';
import { CATALOG } from '../../src/demo/catalog';

/**
 * Complete result documents, one per pipeline: every field of the document and every column of the
 * modality's result table, with values inside every rule.
 */

/** Every column of each modality table (minus id, assessment_id, created_at), with a storable value. */
export const RESULTS: Readonly<Record<Pipeline, Record<string, unknown>>> = {
  retinal: {
    dr_grade: 2, dr_severity: 'moderate', eye_laterality: 'both', image_quality: 'good', four_two_one_met: false,
    hemorrhages_4_quadrants: false, venous_beading_2_quadrants: false, irma_1_quadrant: false, dme_present: true,
    dme_severity: 'mild', vessel_density: 0.1234, av_ratio: 0.725, tortuosity_index: 1.085, hemorrhage_count: 1,
    microaneurysm_count: 1, exudate_area_percent: 0.25, heatmap_data: { url: 'https://media.example/heatmap.png' },
    vessel_segmentation: { mask: 'rle:abc' },
  },
  speech: {
    duration_seconds: 42.5, sample_rate: 44100, audio_quality_score: 0.912, jitter: 0.595, shimmer: 2.405, hnr: 25,
    cpps: 18, speech_rate: 150, pause_ratio: 0.2, voice_tremor: 0.075, articulation_clarity: 0.9, prosody_variation: 30,
    fluency_score: 0.875, parkinsons_probability: 0.05, cognitive_decline_probability: 0.04,
  },
  cardiology: {
    rhythm_classification: 'atrial_fibrillation', heart_rate_bpm: 80, regularity: 'irregular', r_peaks_detected: 40,
    rmssd_ms: 50, sdnn_ms: 65, pnn50_percent: 21.5, pr_interval_ms: 160, qrs_duration_ms: 90, qt_interval_ms: 360,
    qtc_ms: 400, arrhythmia_detected: true, arrhythmia_types: ['atrial_fibrillation', 'prolonged_qt'], signal_quality_score: 0.95,
  },
  radiology: {
    modality_type: 'chest_xray', primary_condition: 'Pneumonia', primary_probability: 62.5, primary_severity: 'moderate',
    findings: [{ condition: 'Pneumonia', probability: 62.5 }], lungs_status: 'abnormal', heart_status: 'normal',
    image_quality: 'good', quality_score: 0.9,
  },
  dermatology: {
    primary_classification: 'dysplastic_nevus', melanoma_suspicion: 'moderate', asymmetry_score: 0.15, border_score: 0.15,
    color_score: 0.175, diameter_mm: 3.5, evolution_score: 0.1, body_location: 'back', fitzpatrick_type: 3,
    image_quality: 'good', lesion_centered: true,
  },
  cognitive: {
    overall_risk_score: 0.425, risk_level: 'moderate', confidence_score: 0.9, attention_score: 0.85, memory_score: 0.85,
    executive_function_score: 0.85, processing_speed_score: 0.85, tasks_completed: 8, valid_tasks: 8, fatigue_index: 0.15,
    consistency_score: 0.875,
  },
};

const round = (x: number, decimals: number) => Number(x.toFixed(decimals));

/** The pipeline's catalog biomarkers at the middle of their normal ranges. */
export function biomarkers(pipeline: Pipeline): NonNullable<ResultDocument['biomarkers']> {
  return CATALOG[pipeline].biomarkers.map((b) => ({
    name: b.name,
    category: b.category,
    value: round((b.low + b.high) / 2, b.decimals),
    unit: b.unit,
    normal_range_min: b.low,
    normal_range_max: b.high,
    status: 'normal' as const,
    confidence: 0.9,
    percentile: b.shape === 'count' ? null : 50,
  }));
}

/** A completed assessment of `pipeline` for the patient, with every part a document can have. */
export function completeDocument(pipeline: Pipeline, patientId: string, overrides: Partial<ResultDocument> = {}): ResultDocument {
  const stages = CATALOG[pipeline].stages.map((s, index) => ({
    name: s.name,
    index,
    status: 'completed' as const,
    started_at: `2026-03-01T10:00:0${index}.000Z`,
    completed_at: `2026-03-01T10:00:0${index}.500Z`,
    duration_ms: 500,
    metadata: index === 0 ? { model_version: '1.0.0' } : {},
  }));
  return {
    session_id: `${pipeline}_${crypto.randomUUID()}`,
    pipeline,
    pipeline_version: '1.0.0',
    patient: { id: patientId },
    status: 'completed',
    created_at: '2026-03-01T10:00:00.000Z',
    completed_at: '2026-03-01T10:00:09.000Z',
    risk_score: 42.5,
    risk_level: 'moderate',
    confidence: 0.913,
    quality_score: 0.88,
    processing_time_ms: 9000,
    requires_review: false,
    stages,
    biomarkers: biomarkers(pipeline),
    result: { ...RESULTS[pipeline] },
    explanation: { text: `Your ${pipeline} assessment shows a moderate overall risk.`, model_used: 'medilens-explainer-2.1', tokens_used: 120, generation_time_ms: 900 },
    ...overrides,
  };
}
