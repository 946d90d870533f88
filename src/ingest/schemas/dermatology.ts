import { bool, decimal, smallint, varchar, vocabulary, type ModalityTable } from './columns';

/** dermatology_results: lesion classification, melanoma suspicion and the ABCDE scores. */
export const dermatology: ModalityTable = {
  table: 'dermatology_results',
  json: [],
  columns: {
    primary_classification: varchar(100),
    melanoma_suspicion: vocabulary(['unlikely', 'low', 'moderate', 'high'], 50),
    asymmetry_score: decimal(4, 3),
    border_score: decimal(4, 3),
    color_score: decimal(4, 3),
    diameter_mm: decimal(5, 2, { min: 0 }),
    evolution_score: decimal(4, 3),
    body_location: varchar(50),
    // Types I to VI by definition (user_profiles.fitzpatrick_type has this CHECK; this column lacks it).
    fitzpatrick_type: smallint({ min: 1, max: 6 }),
    image_quality: varchar(20),
    lesion_centered: bool(),
  },
};
