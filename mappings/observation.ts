import type { Extension, Observation } from 'fhir/r4';
import { AIAST, biomarkerCode, observationCategories, ucumCode, UCUM } from './codes';
import { extensionUrl, iso, versionMeta, type MappingContext, type Timestamp, type ViewRow } from './context';

/**
 * One row of fhir_observation: biomarker_values joined to its assessment (and the model that produced
 * it). patient_id is the assessment's user; deleted_at is the assessment's.
 */
export interface ObservationRow extends ViewRow {
  patient_id: string;
  assessment_id: string;
  biomarker_name: string;
  biomarker_category: string | null;
  value: number;
  unit: string | null;
  normal_range_min: number | null;
  normal_range_max: number | null;
  status: string | null;
  confidence: number | null;
  percentile: number | null;
  created_at: Timestamp;
  pipeline_type: string;
  assessment_status: string | null;
  requires_review: boolean | null;
  effective_at: Timestamp;
  device_id: string | null;
}

const INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const INTERPRETATION_TEXT: Record<string, string> = { N: 'Normal', H: 'High', L: 'Low', A: 'Abnormal' };

export function toObservation(row: ObservationRow, ctx: MappingContext): Observation {
  const unitCode = ucumCode(row.unit);
  const observation: Observation = {
    resourceType: 'Observation',
    id: row.id,
    // Everything a pipeline measured is AI-asserted (HL7 AI Transparency on FHIR).
    meta: { ...versionMeta(row), security: [{ ...AIAST }] },
    status: observationStatus(row),
    category: observationCategories(ctx, row.pipeline_type, row.biomarker_name, row.biomarker_category),
    code: biomarkerCode(ctx, row.biomarker_name),
    subject: { reference: `Patient/${row.patient_id}` },
    effectiveDateTime: iso(row.effective_at),
    issued: iso(row.created_at),
    valueQuantity: {
      value: row.value,
      ...(row.unit !== null ? { unit: row.unit } : {}),
      ...(unitCode !== null ? { system: UCUM, code: unitCode } : {}),
    },
  };
  const interpretation = interpretationCode(row);
  if (interpretation) {
    observation.interpretation = [
      { coding: [{ system: INTERPRETATION, code: interpretation, display: INTERPRETATION_TEXT[interpretation] }] },
    ];
  }
  if (row.normal_range_min !== null || row.normal_range_max !== null) {
    const bound = (value: number) => ({ value, ...(row.unit !== null ? { unit: row.unit } : {}), ...(unitCode ? { system: UCUM, code: unitCode } : {}) });
    observation.referenceRange = [
      {
        ...(row.normal_range_min !== null ? { low: bound(row.normal_range_min) } : {}),
        ...(row.normal_range_max !== null ? { high: bound(row.normal_range_max) } : {}),
      },
    ];
  }
  if (row.device_id) observation.device = { reference: `Device/${row.device_id}` };
  const extension: Extension[] = [];
  if (row.confidence !== null) extension.push({ url: extensionUrl(ctx, 'confidence'), valueDecimal: row.confidence });
  if (row.percentile !== null) extension.push({ url: extensionUrl(ctx, 'percentile'), valueDecimal: row.percentile });
  if (extension.length) observation.extension = extension;
  return observation;
}

function observationStatus(row: ObservationRow): Observation['status'] {
  if (row.deleted_at !== null) return 'entered-in-error';
  if (row.assessment_status === 'completed') return row.requires_review ? 'preliminary' : 'final';
  if (row.assessment_status === 'failed') return 'cancelled';
  return 'preliminary';
}

/** N, H or L from the value against the range; A when the pipeline called it abnormal without a range. */
function interpretationCode(row: ObservationRow): string | null {
  if (row.normal_range_max !== null && row.value > row.normal_range_max) return 'H';
  if (row.normal_range_min !== null && row.value < row.normal_range_min) return 'L';
  if (row.normal_range_min !== null || row.normal_range_max !== null) return 'N';
  if (row.status === 'abnormal') return 'A';
  return null;
}
