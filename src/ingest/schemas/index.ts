import type { SchemaObject } from 'ajv';
import type { Pipeline } from '../../../mappings/pipeline-result';
import { cardiology } from './cardiology';
import { cognitive } from './cognitive';
import { record, type ModalityTable } from './columns';
import { dermatology } from './dermatology';
import { radiology } from './radiology';
import { retinal } from './retinal';
import { speech } from './speech';

export { documentSchema, MAX_BIOMARKERS, MAX_STAGES } from './document';
export type { ModalityTable } from './columns';

/** Each pipeline's result table. */
export const MODALITIES: Readonly<Record<Pipeline, ModalityTable>> = { retinal, speech, cardiology, radiology, dermatology, cognitive };

/** The JSON Schema of a pipeline's `result`: exactly its table's columns, each optional and nullable. */
export function resultSchema(pipeline: Pipeline): SchemaObject {
  return record(MODALITIES[pipeline].columns);
}
