import type { SchemaObject } from 'ajv';
import { ASSESSMENT_STATUSES, PIPELINES } from '../../../mappings/pipeline-result';
import { RISK_LEVELS } from './cognitive';
import { bool, count, dateTime, decimal, jsonb, record, smallint, text, uuid, varchar, vocabulary } from './columns';

/** Bounds on the work one document may ask for; a real pipeline run has tens of each. */
export const MAX_STAGES = 100;
export const MAX_BIOMARKERS = 1000;

const stage = record(
  {
    name: varchar(100, 1),
    index: smallint({ min: 0 }),
    status: vocabulary(['pending', 'running', 'completed', 'failed'], 20),
    started_at: dateTime(),
    completed_at: dateTime(),
    duration_ms: count(),
    error_code: varchar(50),
    error_message: text(),
    metadata: jsonb('object'),
  },
  { required: ['name', 'index', 'status'] },
);

const biomarker = record(
  {
    id: uuid(),
    name: varchar(100, 1),
    category: varchar(50),
    value: decimal(12, 6),
    unit: varchar(20),
    normal_range_min: decimal(12, 6),
    normal_range_max: decimal(12, 6),
    status: vocabulary(['normal', 'borderline', 'abnormal'], 20),
    // No CHECK in the seed, but a confidence is a probability, as the assessment's is.
    confidence: decimal(4, 3, { min: 0, max: 1 }),
    percentile: smallint({ min: 0, max: 100 }), // CHECK (percentile BETWEEN 0 AND 100)
  },
  { required: ['name', 'value'], notNull: ['id'] },
);

const explanation = record(
  {
    text: text(1),
    model_used: varchar(50),
    voice_generated: bool(),
    voice_url: text(),
    voice_duration_ms: count(),
    tokens_used: count(),
    generation_time_ms: count(),
    created_at: dateTime(),
  },
  { required: ['text'] },
);

/** Exactly one of: the MediLens user id, or an identifier pushed for the patient (an MRN). */
const patient: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    id: uuid(),
    identifier: record({ system: varchar(255, 1), value: varchar(255, 1) }, { required: ['system', 'value'] }),
  },
};

/**
 * The document around the modality row. `result` is checked here only as an object: its columns depend
 * on `pipeline`, and are checked against that modality's schema (./index.ts) once the pipeline is known.
 */
export const documentSchema: SchemaObject = record(
  {
    id: uuid(),
    session_id: varchar(255, 1),
    pipeline: vocabulary(PIPELINES, 50),
    pipeline_version: { ...varchar(20, 1), default: '1.0.0' },
    patient,
    status: { ...vocabulary(ASSESSMENT_STATUSES, 20), default: 'completed' },
    created_at: dateTime(),
    completed_at: dateTime(),
    risk_score: decimal(5, 2, { min: 0, max: 100 }), // CHECK (risk_score >= 0 AND risk_score <= 100)
    risk_level: vocabulary(RISK_LEVELS, 20),
    confidence: decimal(4, 3, { min: 0, max: 1 }), // CHECK (confidence >= 0 AND confidence <= 1)
    quality_score: decimal(4, 3),
    processing_time_ms: count(),
    requires_review: bool(),
    review_reason: text(),
    stages: { type: 'array', maxItems: MAX_STAGES, items: stage },
    biomarkers: { type: 'array', maxItems: MAX_BIOMARKERS, items: biomarker },
    result: jsonb('object'),
    explanation,
  },
  { required: ['session_id', 'pipeline', 'patient'], notNull: ['id', 'pipeline_version', 'status', 'stages', 'biomarkers'] },
);
