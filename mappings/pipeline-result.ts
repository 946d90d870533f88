/**
 * The MediLens result document: what a pipeline delivers to `POST /medilens/assessments`, in the
 * tables' own snake_case vocabulary. One document becomes one assessment with its pipeline_stages,
 * biomarker_values, the modality result row and (optionally) an ai_explanations row.
 *
 * It lives with the mappings because mappings/result-document.ts turns a FHIR DiagnosticReport and its
 * Observations into this same shape. The rules each field obeys (lengths, ranges, precision, CHECKs)
 * are the JSON Schemas in src/ingest/schemas/.
 *
 * Optional fields may also be null (pipelines written in Python send None): absent or null, the column
 * gets its default (NULL for most; FALSE for the flags, an empty list or object for the JSONB ones).
 */

export { PIPELINE_TYPES as PIPELINES, type PipelineType as Pipeline } from './codes';
import type { PipelineType as Pipeline } from './codes';

export const ASSESSMENT_STATUSES = ['pending', 'processing', 'completed', 'failed'] as const;
export type AssessmentStatus = (typeof ASSESSMENT_STATUSES)[number];

/** Who the assessment is about: a MediLens user id, or an identifier a hospital pushed (an MRN). */
export type PatientReference = { id: string } | { identifier: { system: string; value: string } };

export interface ResultDocument {
  /** The assessment's id; generated when absent. */
  id?: string;
  /** The pipeline run's session: a repeated delivery of the same session is recognised by it. */
  session_id: string;
  pipeline: Pipeline;
  /** Default '1.0.0'. */
  pipeline_version?: string;
  patient: PatientReference;
  /** Default 'completed'. */
  status?: AssessmentStatus;
  /** RFC 3339 with an offset; default: now. */
  created_at?: string | null;
  completed_at?: string | null;
  risk_score?: number | null;
  risk_level?: 'low' | 'moderate' | 'high' | 'critical' | null;
  confidence?: number | null;
  quality_score?: number | null;
  processing_time_ms?: number | null;
  requires_review?: boolean | null;
  review_reason?: string | null;
  stages?: PipelineStageInput[];
  biomarkers?: BiomarkerInput[];
  /** The modality row (retinal_results ... cognitive_results) of `pipeline`. */
  result?: ModalityResult | null;
  explanation?: ExplanationInput | null;
}

/** A ResultDocument with its defaults applied (what ingestResult writes). */
export type NormalizedDocument = ResultDocument & {
  pipeline_version: string;
  status: AssessmentStatus;
  stages: PipelineStageInput[];
  biomarkers: BiomarkerInput[];
};

export interface PipelineStageInput {
  name: string;
  index: number;
  status: 'pending' | 'running' | 'completed' | 'failed';
  started_at?: string | null;
  completed_at?: string | null;
  duration_ms?: number | null;
  error_code?: string | null;
  error_message?: string | null;
  metadata?: Record<string, unknown> | null;
}

export interface BiomarkerInput {
  /** Lets a caller fix the Observation id; generated when absent. */
  id?: string;
  name: string;
  category?: string | null;
  value: number;
  unit?: string | null;
  normal_range_min?: number | null;
  normal_range_max?: number | null;
  status?: 'normal' | 'borderline' | 'abnormal' | null;
  confidence?: number | null;
  percentile?: number | null;
}

export interface ExplanationInput {
  text: string;
  model_used?: string | null;
  voice_generated?: boolean | null;
  voice_url?: string | null;
  voice_duration_ms?: number | null;
  tokens_used?: number | null;
  generation_time_ms?: number | null;
  created_at?: string | null;
}

type Nullable<T> = { [K in keyof T]?: T[K] | null };

export type RetinalResult = Nullable<{
  dr_grade: number;
  dr_severity: 'none' | 'mild' | 'moderate' | 'severe' | 'proliferative';
  eye_laterality: 'left' | 'right' | 'both';
  image_quality: string;
  four_two_one_met: boolean;
  hemorrhages_4_quadrants: boolean;
  venous_beading_2_quadrants: boolean;
  irma_1_quadrant: boolean;
  dme_present: boolean;
  dme_severity: string;
  vessel_density: number;
  av_ratio: number;
  tortuosity_index: number;
  hemorrhage_count: number;
  microaneurysm_count: number;
  exudate_area_percent: number;
  heatmap_data: unknown;
  vessel_segmentation: unknown;
}>;

export type SpeechResult = Nullable<{
  duration_seconds: number;
  sample_rate: number;
  audio_quality_score: number;
  jitter: number;
  shimmer: number;
  hnr: number;
  cpps: number;
  speech_rate: number;
  pause_ratio: number;
  voice_tremor: number;
  articulation_clarity: number;
  prosody_variation: number;
  fluency_score: number;
  parkinsons_probability: number;
  cognitive_decline_probability: number;
}>;

export type CardiologyResult = Nullable<{
  rhythm_classification: string;
  heart_rate_bpm: number;
  regularity: string;
  r_peaks_detected: number;
  rmssd_ms: number;
  sdnn_ms: number;
  pnn50_percent: number;
  pr_interval_ms: number;
  qrs_duration_ms: number;
  qt_interval_ms: number;
  qtc_ms: number;
  arrhythmia_detected: boolean;
  arrhythmia_types: string[];
  signal_quality_score: number;
}>;

export type RadiologyResult = Nullable<{
  modality_type: 'chest_xray' | 'ct' | 'mri';
  primary_condition: string;
  primary_probability: number;
  primary_severity: string;
  findings: unknown[];
  lungs_status: string;
  heart_status: string;
  image_quality: string;
  quality_score: number;
}>;

export type DermatologyResult = Nullable<{
  primary_classification: string;
  melanoma_suspicion: 'unlikely' | 'low' | 'moderate' | 'high';
  asymmetry_score: number;
  border_score: number;
  color_score: number;
  diameter_mm: number;
  evolution_score: number;
  body_location: string;
  fitzpatrick_type: number;
  image_quality: string;
  lesion_centered: boolean;
}>;

export type CognitiveResult = Nullable<{
  overall_risk_score: number;
  risk_level: 'low' | 'moderate' | 'high' | 'critical';
  confidence_score: number;
  attention_score: number;
  memory_score: number;
  executive_function_score: number;
  processing_speed_score: number;
  tasks_completed: number;
  valid_tasks: number;
  fatigue_index: number;
  consistency_score: number;
}>;

export type ModalityResult = RetinalResult | SpeechResult | CardiologyResult | RadiologyResult | DermatologyResult | CognitiveResult;

/** Whose assessment it is: the resolved patient and the organization the assessment belongs to. */
export interface AssessmentOwner {
  patientId: string;
  organizationId: string | null;
}

/** What ingestion wrote (or found, for a repeated delivery). */
export interface IngestResult {
  assessmentId: string;
  /** false: the session was delivered before; nothing was written. */
  created: boolean;
  /** The biomarker_values ids (Observation ids): document order when created. */
  observationIds: string[];
}
