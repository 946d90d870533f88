import { decimal, jsonb, varchar, vocabulary, type ModalityTable } from './columns';

/** radiology_results: the primary finding, structured findings and anatomical status of an image. */
export const radiology: ModalityTable = {
  table: 'radiology_results',
  json: ['findings'],
  columns: {
    modality_type: vocabulary(['chest_xray', 'ct', 'mri'], 50),
    primary_condition: varchar(100),
    primary_probability: decimal(5, 2),
    primary_severity: varchar(20),
    findings: jsonb('array'),
    lungs_status: varchar(20),
    heart_status: varchar(20),
    image_quality: varchar(20),
    quality_score: decimal(4, 3),
  },
};
