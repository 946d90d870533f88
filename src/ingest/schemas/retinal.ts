import { bool, count, decimal, jsonb, smallint, varchar, vocabulary, type ModalityTable } from './columns';

export const DR_SEVERITIES = ['none', 'mild', 'moderate', 'severe', 'proliferative'] as const;

/** retinal_results: diabetic retinopathy grading (ETDRS 4-2-1 rule), DME and vessel measurements. */
export const retinal: ModalityTable = {
  table: 'retinal_results',
  json: ['heatmap_data', 'vessel_segmentation'],
  columns: {
    dr_grade: smallint({ min: 0, max: 4 }), // CHECK (dr_grade BETWEEN 0 AND 4)
    dr_severity: vocabulary(DR_SEVERITIES, 20),
    eye_laterality: vocabulary(['left', 'right', 'both'], 10),
    image_quality: varchar(20),
    four_two_one_met: bool(),
    hemorrhages_4_quadrants: bool(),
    venous_beading_2_quadrants: bool(),
    irma_1_quadrant: bool(),
    dme_present: bool(),
    dme_severity: varchar(20),
    vessel_density: decimal(5, 4),
    av_ratio: decimal(4, 3),
    tortuosity_index: decimal(4, 3),
    hemorrhage_count: count(),
    microaneurysm_count: count(),
    exudate_area_percent: decimal(5, 2),
    heatmap_data: jsonb(),
    vessel_segmentation: jsonb(),
  },
};
