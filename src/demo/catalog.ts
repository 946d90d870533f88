import type { Pipeline } from '../db/seed';

/**
 * What each MediLens pipeline measures and how it runs: its stages (with typical timings), the ways it
 * fails, and its biomarkers with unit (UCUM), normal range and how disease moves the value.
 * The ranges are plausible adult screening ranges for demo data, not clinical reference values.
 */

export interface BiomarkerSpec {
  name: string;
  category: string;
  /** UCUM unit code ('1' for dimensionless ratios, scores and counts). */
  unit: string;
  /** Normal range. */
  low: number;
  high: number;
  /** Which way disease moves the value. */
  worse: 'up' | 'down';
  /**
   * Healthy population shape: 'normal' around the middle of the range; 'edge' piled up against the healthy
   * edge of the range (0 for lesion areas and probabilities, 1 for quality scores); 'count' a Poisson count.
   */
  shape: 'normal' | 'edge' | 'count';
  /** Decimal places kept (never more than the matching result column holds). */
  decimals: number;
  /** Values outside these are impossible (or do not fit the result column). */
  limits: readonly [number, number];
  /** How far disease moves the value at severity 1, in range widths (for counts: the added Poisson mean). */
  effect: number;
  /** How far outside the range still counts as borderline; default 15% of the range width. */
  margin?: number;
}

export interface StageSpec {
  name: string;
  /** Typical duration in milliseconds. */
  ms: number;
}

export interface FailureSpec {
  stage: string;
  code: string;
  message: string;
}

export interface PipelineSpec {
  pipeline: Pipeline;
  /** Human label used in explanations. */
  label: string;
  stages: readonly StageSpec[];
  failures: readonly FailureSpec[];
  biomarkers: readonly BiomarkerSpec[];
}

const b = (
  name: string,
  category: string,
  unit: string,
  range: readonly [number, number],
  worse: 'up' | 'down',
  shape: BiomarkerSpec['shape'],
  decimals: number,
  limits: readonly [number, number],
  effect: number,
  margin?: number,
): BiomarkerSpec => ({ name, category, unit, low: range[0], high: range[1], worse, shape, decimals, limits, effect, margin });

const s = (name: string, ms: number): StageSpec => ({ name, ms });

export const CATALOG: Readonly<Record<Pipeline, PipelineSpec>> = {
  retinal: {
    pipeline: 'retinal',
    label: 'retinal scan',
    stages: [
      s('image_quality_check', 180), s('preprocessing', 420), s('optic_disc_localization', 350),
      s('vessel_segmentation', 1900), s('lesion_detection', 2400), s('dr_grading', 650), s('report_generation', 900),
    ],
    failures: [
      { stage: 'image_quality_check', code: 'IMAGE_QUALITY_TOO_LOW', message: 'Fundus image is out of focus or underexposed' },
      { stage: 'lesion_detection', code: 'MODEL_TIMEOUT', message: 'Lesion detector did not answer within 30 s' },
    ],
    biomarkers: [
      b('vessel_density', 'vessel', '1', [0.1, 0.16], 'down', 'normal', 4, [0.02, 0.3], 1.2),
      b('av_ratio', 'vessel', '1', [0.65, 0.8], 'down', 'normal', 3, [0.3, 1.2], 1.5),
      b('tortuosity_index', 'vessel', '1', [1.02, 1.15], 'up', 'normal', 3, [1, 2.5], 1.5),
      b('cup_to_disc_ratio', 'optic_disc', '1', [0.1, 0.5], 'up', 'normal', 2, [0.05, 0.95], 0.6),
      b('microaneurysm_count', 'lesion', '1', [0, 2], 'up', 'count', 0, [0, 500], 40, 2),
      b('hemorrhage_count', 'lesion', '1', [0, 1], 'up', 'count', 0, [0, 300], 25, 2),
      b('exudate_area_percent', 'lesion', '%', [0, 0.5], 'up', 'edge', 2, [0, 40], 6),
    ],
  },
  speech: {
    pipeline: 'speech',
    label: 'voice assessment',
    stages: [
      s('audio_validation', 120), s('noise_reduction', 800), s('voice_activity_detection', 300),
      s('acoustic_feature_extraction', 1500), s('prosody_analysis', 700), s('risk_modeling', 400), s('report_generation', 850),
    ],
    failures: [
      { stage: 'audio_validation', code: 'AUDIO_TOO_SHORT', message: 'Recording has less than 10 s of voiced speech' },
      { stage: 'noise_reduction', code: 'SNR_TOO_LOW', message: 'Background noise too loud for reliable voice analysis' },
    ],
    biomarkers: [
      b('jitter', 'voice', '%', [0.15, 1.04], 'up', 'normal', 3, [0.05, 10], 1.5),
      b('shimmer', 'voice', '%', [1, 3.81], 'up', 'normal', 3, [0.3, 20], 1.5),
      b('hnr', 'voice', 'dB', [20, 30], 'down', 'normal', 2, [0, 40], 1.5),
      b('cpps', 'voice', 'dB', [14, 22], 'down', 'normal', 2, [2, 30], 1.5),
      b('speech_rate', 'fluency', '/min', [120, 180], 'down', 'normal', 1, [40, 260], 1.3),
      b('pause_ratio', 'fluency', '1', [0.1, 0.3], 'up', 'normal', 3, [0.01, 0.9], 1.5),
      b('voice_tremor', 'voice', '1', [0, 0.15], 'up', 'edge', 3, [0, 1], 2),
      b('articulation_clarity', 'articulation', '1', [0.8, 1], 'down', 'edge', 3, [0.2, 1], 2),
      b('prosody_variation', 'prosody', 'Hz', [15, 45], 'down', 'normal', 2, [2, 120], 1),
      b('fluency_score', 'fluency', '1', [0.75, 1], 'down', 'edge', 3, [0.1, 1], 2),
    ],
  },
  cardiology: {
    pipeline: 'cardiology',
    label: 'ECG analysis',
    stages: [
      s('signal_validation', 90), s('bandpass_filtering', 150), s('r_peak_detection', 300), s('hrv_analysis', 250),
      s('interval_measurement', 400), s('rhythm_classification', 600), s('report_generation', 800),
    ],
    failures: [
      { stage: 'signal_validation', code: 'SIGNAL_TOO_NOISY', message: 'ECG signal quality below threshold (motion artefacts)' },
      { stage: 'r_peak_detection', code: 'LEAD_OFF', message: 'Electrode contact lost during the recording' },
    ],
    biomarkers: [
      b('heart_rate', 'vital', '/min', [60, 100], 'up', 'normal', 1, [35, 190], 1.2),
      b('rmssd', 'hrv', 'ms', [20, 80], 'down', 'normal', 1, [3, 250], 0.8),
      b('sdnn', 'hrv', 'ms', [30, 100], 'down', 'normal', 1, [5, 300], 0.8),
      b('pnn50', 'hrv', '%', [3, 40], 'down', 'normal', 1, [0, 90], 0.8),
      b('pr_interval', 'interval', 'ms', [120, 200], 'up', 'normal', 0, [80, 400], 1),
      b('qrs_duration', 'interval', 'ms', [70, 110], 'up', 'normal', 0, [50, 220], 1.2),
      // qt_interval is derived from qtc and heart rate (Bazett) after sampling; see biomarkers.ts.
      b('qt_interval', 'interval', 'ms', [280, 440], 'up', 'normal', 0, [200, 700], 1),
      b('qtc', 'interval', 'ms', [350, 450], 'up', 'normal', 0, [300, 600], 1),
    ],
  },
  radiology: {
    pipeline: 'radiology',
    label: 'chest X-ray',
    stages: [
      s('dicom_validation', 200), s('preprocessing', 500), s('lung_segmentation', 1600),
      s('pathology_classification', 2200), s('heatmap_generation', 1200), s('report_generation', 900),
    ],
    failures: [
      { stage: 'dicom_validation', code: 'UNSUPPORTED_VIEW', message: 'Only PA and AP chest views are supported' },
      { stage: 'pathology_classification', code: 'MODEL_TIMEOUT', message: 'Classifier did not answer within 30 s' },
    ],
    biomarkers: [
      b('cardiothoracic_ratio', 'cardiac', '1', [0.39, 0.5], 'up', 'normal', 3, [0.3, 0.8], 1.2),
      b('lung_opacity_area', 'lung', '%', [0, 5], 'up', 'edge', 2, [0, 100], 5),
      b('pneumonia_probability', 'lung', '%', [0, 20], 'up', 'edge', 1, [0, 99.9], 3),
      b('pleural_effusion_probability', 'pleura', '%', [0, 20], 'up', 'edge', 1, [0, 99.9], 2.5),
      b('nodule_max_diameter', 'lung', 'mm', [0, 6], 'up', 'edge', 1, [0, 40], 1.5),
      b('trachea_deviation', 'mediastinum', 'mm', [0, 5], 'up', 'edge', 1, [0, 30], 1),
      b('lung_field_symmetry', 'lung', '1', [0.9, 1], 'down', 'edge', 3, [0.5, 1], 1.5),
    ],
  },
  dermatology: {
    pipeline: 'dermatology',
    label: 'skin lesion analysis',
    stages: [
      s('image_quality_check', 160), s('lesion_segmentation', 1300), s('abcde_feature_extraction', 700),
      s('lesion_classification', 1800), s('risk_scoring', 250), s('report_generation', 800),
    ],
    failures: [
      { stage: 'image_quality_check', code: 'IMAGE_QUALITY_TOO_LOW', message: 'Lesion image is blurred or has glare' },
      { stage: 'lesion_segmentation', code: 'LESION_NOT_FOUND', message: 'No lesion found in the image centre' },
    ],
    biomarkers: [
      b('asymmetry_score', 'abcde', '1', [0, 0.3], 'up', 'edge', 3, [0, 1], 2),
      b('border_score', 'abcde', '1', [0, 0.3], 'up', 'edge', 3, [0, 1], 2),
      b('color_score', 'abcde', '1', [0, 0.35], 'up', 'edge', 3, [0, 1], 1.8),
      b('diameter', 'abcde', 'mm', [1, 6], 'up', 'normal', 2, [0.5, 40], 1.5),
      b('evolution_score', 'abcde', '1', [0, 0.2], 'up', 'edge', 3, [0, 1], 2.5),
      b('melanoma_probability', 'lesion', '%', [0, 10], 'up', 'edge', 1, [0, 99.9], 6),
    ],
  },
  cognitive: {
    pipeline: 'cognitive',
    label: 'cognitive assessment',
    stages: [
      s('session_validation', 80), s('task_scoring', 600), s('reaction_time_analysis', 350), s('domain_scoring', 450),
      s('fatigue_adjustment', 200), s('risk_scoring', 250), s('report_generation', 750),
    ],
    failures: [
      { stage: 'session_validation', code: 'INCOMPLETE_SESSION', message: 'Fewer than 4 of 8 tasks were completed' },
      { stage: 'task_scoring', code: 'INVALID_RESPONSES', message: 'Response pattern indicates the tasks were not attempted' },
    ],
    biomarkers: [
      b('attention_score', 'cognitive_domain', '1', [0.7, 1], 'down', 'edge', 3, [0, 1], 1.6),
      b('memory_score', 'cognitive_domain', '1', [0.7, 1], 'down', 'edge', 3, [0, 1], 1.8),
      b('executive_function_score', 'cognitive_domain', '1', [0.7, 1], 'down', 'edge', 3, [0, 1], 1.6),
      b('processing_speed_score', 'cognitive_domain', '1', [0.7, 1], 'down', 'edge', 3, [0, 1], 1.6),
      b('reaction_time_mean', 'reaction_time', 'ms', [220, 450], 'up', 'normal', 0, [150, 2000], 1.2),
      b('reaction_time_variability', 'reaction_time', 'ms', [25, 110], 'up', 'normal', 0, [5, 600], 1.2),
      b('task_completion_time', 'task', 's', [420, 900], 'up', 'normal', 0, [120, 3600], 1),
      b('fatigue_index', 'task', '1', [0, 0.3], 'up', 'edge', 3, [0, 1], 1.5),
      b('consistency_score', 'task', '1', [0.75, 1], 'down', 'edge', 3, [0, 1], 1.6),
    ],
  },
};

export type BiomarkerStatus = 'normal' | 'borderline' | 'abnormal';

/** normal inside the range; borderline outside it by at most the margin; abnormal beyond. */
export function classify(spec: BiomarkerSpec, value: number): BiomarkerStatus {
  const outside = value < spec.low ? spec.low - value : value > spec.high ? value - spec.high : 0;
  if (outside === 0) return 'normal';
  return outside <= (spec.margin ?? 0.15 * (spec.high - spec.low)) + 1e-9 ? 'borderline' : 'abnormal';
}

/** risk_level from risk_score (0-100): below 25 low, below 50 moderate, below 75 high, else critical. */
export function riskLevel(score: number): 'low' | 'moderate' | 'high' | 'critical' {
  return score < 25 ? 'low' : score < 50 ? 'moderate' : score < 75 ? 'high' : 'critical';
}
