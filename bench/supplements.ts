/**
 * Supplementary measurements each pipeline could report beyond the demo catalog (src/demo/catalog.ts),
 * used only to top the benchmark dataset up to its biomarker target. Units are UCUM codes the mappings
 * know; ranges are plausible adult screening ranges for demo data, not clinical reference values.
 */
export interface Supplement {
  pipeline: string;
  /** Order of use: every assessment gets ord 1 before any gets ord 2. */
  ord: number;
  name: string;
  category: string;
  unit: string;
  low: number;
  high: number;
  worse: 'up' | 'down';
  decimals: number;
  limits: readonly [number, number];
}

type Row = [name: string, category: string, unit: string, low: number, high: number, worse: 'up' | 'down', decimals: number, limits: [number, number]];

const BY_PIPELINE: Record<string, Row[]> = {
  retinal: [
    ['fractal_dimension', 'vessel', '1', 1.4, 1.5, 'down', 3, [1.2, 1.7]],
    ['vessel_caliber_variation', 'vessel', '1', 0.05, 0.15, 'up', 3, [0, 0.6]],
    ['retinal_thickness', 'macula', 'mm', 0.22, 0.32, 'up', 3, [0.1, 0.8]],
    ['foveal_reflex_score', 'macula', '1', 0.7, 1, 'down', 3, [0, 1]],
  ],
  speech: [
    ['f0_mean', 'voice', 'Hz', 85, 255, 'down', 1, [50, 400]],
    ['f0_sd', 'prosody', 'Hz', 10, 40, 'down', 2, [1, 120]],
    ['mean_pause_duration', 'fluency', 's', 0.3, 0.8, 'up', 3, [0.05, 5]],
    ['articulation_rate', 'articulation', '/min', 240, 360, 'down', 1, [60, 600]],
  ],
  cardiology: [
    ['p_wave_duration', 'interval', 'ms', 80, 120, 'up', 0, [40, 250]],
    ['qt_dispersion', 'interval', 'ms', 20, 50, 'up', 0, [0, 200]],
    ['lf_hf_ratio', 'hrv', '1', 1, 3, 'up', 2, [0.1, 15]],
    ['st_deviation', 'segment', 'mm', -0.5, 1, 'up', 2, [-5, 8]],
  ],
  radiology: [
    ['mediastinal_width', 'mediastinum', 'mm', 40, 80, 'up', 1, [20, 160]],
    ['cardiomegaly_probability', 'cardiac', '%', 0, 20, 'up', 1, [0, 99.9]],
    ['hilar_prominence_score', 'lung', '1', 0, 0.3, 'up', 3, [0, 1]],
    ['costophrenic_sharpness', 'pleura', '1', 0.8, 1, 'down', 3, [0, 1]],
  ],
  dermatology: [
    ['erythema_index', 'lesion', '1', 0, 0.3, 'up', 3, [0, 1]],
    ['pigment_network_score', 'abcde', '1', 0, 0.3, 'up', 3, [0, 1]],
    ['blue_white_veil_probability', 'lesion', '%', 0, 10, 'up', 1, [0, 99.9]],
    ['lesion_elevation', 'lesion', 'mm', 0, 1, 'up', 2, [0, 10]],
  ],
  cognitive: [
    ['verbal_fluency_score', 'cognitive_domain', '1', 0.7, 1, 'down', 3, [0, 1]],
    ['visuospatial_score', 'cognitive_domain', '1', 0.7, 1, 'down', 3, [0, 1]],
    ['working_memory_span', 'cognitive_domain', '1', 5, 9, 'down', 0, [1, 15]],
    ['stroop_interference', 'reaction_time', 'ms', 50, 150, 'up', 0, [0, 1000]],
  ],
};

export const SUPPLEMENTS: readonly Supplement[] = Object.entries(BY_PIPELINE).flatMap(([pipeline, rows]) =>
  rows.map(([name, category, unit, low, high, worse, decimals, limits], i) => ({
    pipeline, ord: i + 1, name, category, unit, low, high, worse, decimals, limits,
  })),
);
