import type { Pipeline } from '../db/seed';
import { clamp, round, type Random } from './random';
import type { Row, TableName } from './writer';

/**
 * The modality result row of a completed assessment (retinal_results, speech_results ...). Its columns
 * repeat the assessment's biomarker values (same value, same rounding: cardiology_results.heart_rate_bpm is
 * the heart_rate biomarker rounded) and add the categorical findings that follow from them.
 */

export interface ResultContext {
  rng: Random;
  id: string;
  assessmentId: string;
  /** Biomarker name -> value, as written to biomarker_values. */
  values: Readonly<Record<string, number>>;
  severity: number;
  quality: number;
  confidence: number;
  riskScore: number;
  riskLevel: string;
  fitzpatrickType: number;
  createdAt: string;
}

export const RESULT_TABLE: Readonly<Record<Pipeline, TableName>> = {
  retinal: 'retinal_results',
  speech: 'speech_results',
  cardiology: 'cardiology_results',
  radiology: 'radiology_results',
  dermatology: 'dermatology_results',
  cognitive: 'cognitive_results',
};

export function modalityRow(pipeline: Pipeline, ctx: ResultContext): Row {
  const common = { id: ctx.id, assessment_id: ctx.assessmentId, created_at: ctx.createdAt };
  return { ...common, ...BUILDERS[pipeline](ctx) };
}

const imageQuality = (q: number): string => (q >= 0.85 ? 'good' : q >= 0.7 ? 'adequate' : 'poor');
const probability = (x: number): number => round(clamp(x, 0, 0.999), 3);

const BUILDERS: Readonly<Record<Pipeline, (ctx: ResultContext) => Row>> = {
  retinal({ rng, values: v, severity, quality }) {
    const ma = v.microaneurysm_count;
    const hem = v.hemorrhage_count;
    const exudate = v.exudate_area_percent;
    const grade =
      ma === 0 && hem === 0 && exudate < 0.5 ? 0 : hem <= 1 && exudate < 1 && severity < 0.35 ? 1 : severity < 0.6 ? 2 : severity < 0.8 ? 3 : 4;
    let hemorrhages4 = grade >= 3 && hem >= 20;
    const venous2 = grade >= 3 && rng.chance(0.4);
    const irma1 = grade >= 3 && rng.chance(0.5);
    if (grade === 3 && !hemorrhages4 && !venous2 && !irma1) hemorrhages4 = true; // severe NPDR meets the 4-2-1 rule
    const dme = exudate >= 1;
    return {
      dr_grade: grade,
      dr_severity: ['none', 'mild', 'moderate', 'severe', 'proliferative'][grade],
      eye_laterality: rng.weighted([['both', 2], ['left', 1], ['right', 1]] as const),
      image_quality: imageQuality(quality),
      four_two_one_met: hemorrhages4 || venous2 || irma1,
      hemorrhages_4_quadrants: hemorrhages4,
      venous_beading_2_quadrants: venous2,
      irma_1_quadrant: irma1,
      dme_present: dme,
      dme_severity: !dme ? null : exudate < 2 ? 'mild' : exudate < 5 ? 'moderate' : 'severe',
      vessel_density: v.vessel_density,
      av_ratio: v.av_ratio,
      tortuosity_index: v.tortuosity_index,
      hemorrhage_count: hem,
      microaneurysm_count: ma,
      exudate_area_percent: exudate,
    };
  },

  speech({ rng, values: v, severity, quality }) {
    return {
      duration_seconds: round(rng.uniform(20, 60), 2),
      sample_rate: rng.pick([16000, 44100, 48000]),
      audio_quality_score: quality,
      jitter: v.jitter,
      shimmer: v.shimmer,
      hnr: v.hnr,
      cpps: v.cpps,
      speech_rate: v.speech_rate,
      pause_ratio: v.pause_ratio,
      voice_tremor: v.voice_tremor,
      articulation_clarity: v.articulation_clarity,
      prosody_variation: v.prosody_variation,
      fluency_score: v.fluency_score,
      parkinsons_probability: probability(0.02 + 0.5 * severity + 1.5 * v.voice_tremor * severity + 0.03 * rng.normal()),
      cognitive_decline_probability: probability(0.02 + 0.45 * severity + 0.5 * v.pause_ratio * severity + 0.03 * rng.normal()),
    };
  },

  cardiology({ rng, values: v, severity, quality }) {
    const bpm = Math.round(v.heart_rate);
    const afib = severity > 0.5 && rng.chance(0.45);
    const types: string[] = [];
    if (afib) types.push('atrial_fibrillation');
    else if (bpm > 100) types.push('sinus_tachycardia');
    else if (bpm < 60) types.push('sinus_bradycardia');
    if (v.pr_interval > 200 && !afib) types.push('first_degree_av_block');
    if (v.qtc > 470) types.push('prolonged_qt');
    if (rng.chance(0.04 + 0.3 * severity)) types.push('premature_ventricular_contractions');
    return {
      rhythm_classification: afib ? 'atrial_fibrillation' : bpm > 100 ? 'sinus_tachycardia' : bpm < 60 ? 'sinus_bradycardia' : 'normal_sinus_rhythm',
      heart_rate_bpm: bpm,
      regularity: afib ? 'irregular' : 'regular',
      r_peaks_detected: Math.round(v.heart_rate / 2), // 30 s lead II recording
      rmssd_ms: v.rmssd,
      sdnn_ms: v.sdnn,
      pnn50_percent: v.pnn50,
      pr_interval_ms: v.pr_interval,
      qrs_duration_ms: v.qrs_duration,
      qt_interval_ms: v.qt_interval,
      qtc_ms: v.qtc,
      arrhythmia_detected: types.length > 0,
      arrhythmia_types: JSON.stringify(types),
      signal_quality_score: quality,
    };
  },

  radiology({ values: v, quality }) {
    const ctr = v.cardiothoracic_ratio;
    const candidates: [string, number][] = [
      ['Pneumonia', v.pneumonia_probability],
      ['Pleural Effusion', v.pleural_effusion_probability],
      ['Cardiomegaly', round(clamp(ctr <= 0.5 ? ctr * 40 : 50 + (ctr - 0.5) * 300, 0, 99.9), 1)],
      ['Lung Nodule', round(clamp(v.nodule_max_diameter <= 6 ? v.nodule_max_diameter * 3 : 40 + v.nodule_max_diameter * 2, 0, 99.9), 1)],
    ];
    const [topName, topProbability] = candidates.reduce((a, c) => (c[1] > a[1] ? c : a));
    const found = topProbability >= 30;
    const lungFinding = candidates.some(([name, p]) => name !== 'Cardiomegaly' && p >= 50) || v.lung_opacity_area > 5;
    return {
      modality_type: 'chest_xray',
      primary_condition: found ? topName : 'No Finding',
      primary_probability: found ? topProbability : round(100 - topProbability, 2),
      primary_severity: !found ? 'none' : topProbability < 50 ? 'mild' : topProbability < 75 ? 'moderate' : 'severe',
      findings: JSON.stringify(
        candidates.filter(([, p]) => p >= 20).map(([condition, p]) => ({ condition, probability: p })),
      ),
      lungs_status: lungFinding ? 'abnormal' : 'normal',
      heart_status: ctr > 0.5 ? 'enlarged' : 'normal',
      image_quality: imageQuality(quality),
      quality_score: quality,
    };
  },

  dermatology({ rng, values: v, quality, fitzpatrickType }) {
    const p = v.melanoma_probability;
    return {
      primary_classification:
        p >= 50
          ? 'melanoma'
          : p >= 25
            ? 'dysplastic_nevus'
            : rng.weighted([['benign_nevus', 70], ['seborrheic_keratosis', 20], ['dermatofibroma', 10]] as const),
      melanoma_suspicion: p < 10 ? 'unlikely' : p < 25 ? 'low' : p < 50 ? 'moderate' : 'high',
      asymmetry_score: v.asymmetry_score,
      border_score: v.border_score,
      color_score: v.color_score,
      diameter_mm: v.diameter,
      evolution_score: v.evolution_score,
      body_location: rng.pick(['back', 'chest', 'abdomen', 'left_arm', 'right_arm', 'left_leg', 'right_leg', 'face', 'neck', 'scalp']),
      fitzpatrick_type: fitzpatrickType,
      image_quality: imageQuality(quality),
      lesion_centered: rng.chance(0.92),
    };
  },

  cognitive({ rng, values: v, severity, confidence, riskScore, riskLevel }) {
    const tasks = severity > 0.6 && rng.chance(0.3) ? rng.int(5, 7) : 8;
    return {
      overall_risk_score: round(riskScore / 100, 3),
      risk_level: riskLevel,
      confidence_score: confidence,
      attention_score: v.attention_score,
      memory_score: v.memory_score,
      executive_function_score: v.executive_function_score,
      processing_speed_score: v.processing_speed_score,
      tasks_completed: tasks,
      valid_tasks: tasks - (rng.chance(0.15) ? 1 : 0),
      fatigue_index: v.fatigue_index,
      consistency_score: v.consistency_score,
    };
  },
};
