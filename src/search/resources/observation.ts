import {
  BIOMARKER_CODES,
  DEFAULT_CATEGORY,
  LOINC,
  medilensSystems,
  OBSERVATION_CATEGORY,
  PIPELINE_CATEGORY,
} from '../../../mappings/codes';
import { toObservation, type ObservationRow } from '../../../mappings/observation';
import { ROW, type ResourceDefinition } from '../definition';
import { or, type SqlParams } from '../sql';
import type { Token } from '../parameters/token';
import { commonParameters, lastUpdatedSort, referencesAt } from './common';

const US_CORE = 'http://hl7.org/fhir/us/core/SearchParameter';
const OBSERVATION_STATUS = 'http://hl7.org/fhir/observation-status';

/**
 * Observation.status as mappings/observation.ts derives it from the assessment, turned into predicates
 * (deleted rows, entered-in-error, never reach a search).
 */
const STATUS: Record<string, string> = {
  final: `r.assessment_status = 'completed' AND NOT COALESCE(r.requires_review, FALSE)`,
  preliminary: `(r.assessment_status IS DISTINCT FROM 'completed' OR COALESCE(r.requires_review, FALSE)) AND r.assessment_status IS DISTINCT FROM 'failed'`,
  cancelled: `r.assessment_status = 'failed'`,
};

/** Observation <- fhir_observation (biomarker_values with their assessment and the model that ran). */
export function observationDefinition(canonicalBase: string): ResourceDefinition<ObservationRow> {
  const systems = medilensSystems({ canonicalBase });
  return {
    type: 'Observation',
    tenancy: 'patient',
    view: 'fhir_observation',
    profile: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-clinical-result',
    parameters: {
      ...commonParameters(),
      patient: {
        type: 'reference',
        description: 'The Patient the observation is about',
        definition: `${US_CORE}/us-core-observation-patient`,
        targets: ['Patient'],
        column: ROW.patient,
      },
      subject: {
        type: 'reference',
        description: 'The subject of the observation (always a Patient here)',
        definition: 'http://hl7.org/fhir/SearchParameter/Observation-subject',
        targets: ['Patient'],
        column: ROW.patient,
      },
      category: {
        type: 'token',
        description: 'observation-category (vital-signs, imaging, exam, procedure, survey), MediLens pipeline or biomarker category',
        definition: `${US_CORE}/us-core-observation-category`,
        where: (params, token) => categoryPredicate(params, token, systems.pipeline, systems.biomarkerCategory),
      },
      code: {
        type: 'token',
        description: 'LOINC code, or MediLens biomarker code',
        definition: `${US_CORE}/us-core-observation-code`,
        where: (params, token) => codePredicate(params, token, systems.biomarker),
        text: (params, text) => codeTextPredicate(params, text),
      },
      date: {
        type: 'date',
        description: 'When the observation was made (the assessment time)',
        definition: `${US_CORE}/us-core-observation-date`,
        column: 'r.effective_at',
        precision: 'instant',
      },
      status: {
        type: 'token',
        description: 'final, preliminary or cancelled',
        definition: `${US_CORE}/us-core-observation-status`,
        where: (_params, token) =>
          token.system !== undefined && token.system !== OBSERVATION_STATUS ? 'FALSE' : token.code === null ? 'TRUE' : (STATUS[token.code] ?? 'FALSE'),
      },
      'value-quantity': {
        type: 'quantity',
        description: 'The value, optionally with its UCUM unit',
        definition: 'http://hl7.org/fhir/SearchParameter/Observation-value-quantity',
        valueColumn: 'r.value',
        unitColumn: 'r.unit',
      },
    },
    sorts: {
      _lastUpdated: lastUpdatedSort,
      date: { columns: [{ expr: 'r.effective_at', sqlType: 'timestamptz' }] },
      code: { columns: [{ expr: 'r.biomarker_name', sqlType: 'text' }] },
    },
    includes: {
      patient: { target: 'Patient', references: referencesAt('subject') },
      subject: { target: 'Patient', references: referencesAt('subject') },
      device: { target: 'Device', references: referencesAt('device') },
    },
    summary: ['identifier', 'basedOn', 'partOf', 'status', 'category', 'code', 'subject', 'focus', 'encounter', 'effectiveDateTime', 'issued', 'valueQuantity', 'hasMember', 'derivedFrom', 'component'],
    toResource: toObservation,
  };
}

const OVERRIDDEN = Object.entries(BIOMARKER_CODES).filter(([, c]) => c.category !== undefined);
const OVERRIDDEN_NAMES = OVERRIDDEN.map(([name]) => name);
const KNOWN_PIPELINES = Object.keys(PIPELINE_CATEGORY);

/**
 * The category is computed by the code map (biomarker override, else the pipeline's category), so the
 * predicate is the code map turned inside out: the biomarkers that override to this category, plus the
 * pipelines whose category it is (less their overridden biomarkers).
 */
function categoryPredicate(params: SqlParams, token: Token, pipelineSystem: string, biomarkerCategorySystem: string): string {
  const parts: string[] = [];
  if (token.system === undefined || token.system === OBSERVATION_CATEGORY) {
    if (token.code === null) return 'TRUE';
    const code = token.code;
    const names = OVERRIDDEN.filter(([, c]) => c.category === code).map(([name]) => name);
    if (names.length) parts.push(`r.biomarker_name = ANY(${params.add(names)}::text[])`);
    const pipelines = KNOWN_PIPELINES.filter((p) => PIPELINE_CATEGORY[p] === code);
    // Bound only where used: an unreferenced bind value is a protocol error in Postgres.
    const notOverridden = () => `r.biomarker_name <> ALL(${params.add(OVERRIDDEN_NAMES)}::text[])`;
    if (pipelines.length) parts.push(`r.pipeline_type = ANY(${params.add(pipelines)}::text[]) AND ${notOverridden()}`);
    if (code === DEFAULT_CATEGORY) parts.push(`r.pipeline_type <> ALL(${params.add(KNOWN_PIPELINES)}::text[]) AND ${notOverridden()}`);
  }
  if (token.system === undefined || token.system === pipelineSystem) {
    if (token.code === null) return 'TRUE';
    parts.push(`r.pipeline_type = ${params.add(token.code)}`);
  }
  if (token.system === undefined || token.system === biomarkerCategorySystem) {
    if (token.code === null) return 'r.biomarker_category IS NOT NULL';
    parts.push(`r.biomarker_category = ${params.add(token.code)}`);
  }
  return or(parts);
}

function codePredicate(params: SqlParams, token: Token, biomarkerSystem: string): string {
  const byLoinc = (code: string | null) =>
    Object.entries(BIOMARKER_CODES)
      .filter(([, c]) => c.loinc !== undefined && (code === null || c.loinc.code === code))
      .map(([name]) => name);
  let names: string[];
  if (token.system === LOINC) names = byLoinc(token.code);
  else if (token.system === biomarkerSystem) {
    if (token.code === null) return 'TRUE';
    names = [token.code];
  } else if (token.system === undefined) names = token.code === null ? [] : [...byLoinc(token.code), token.code];
  else return 'FALSE';
  return names.length === 0 ? 'FALSE' : `r.biomarker_name = ANY(${params.add(names)}::text[])`;
}

/** :text — the display (LOINC display or the MediLens name spelled out) starts with the text. */
function codeTextPredicate(params: SqlParams, text: string): string {
  const folded = text.toLowerCase();
  const names = Object.entries(BIOMARKER_CODES)
    .filter(([, c]) => c.loinc?.display.toLowerCase().startsWith(folded))
    .map(([name]) => name);
  const byName = `search_fold(replace(r.biomarker_name, '_', ' ')) LIKE search_fold(${params.add(text.replace(/[\\%_]/g, '\\$&') + '%')})`;
  return names.length ? `(${byName} OR r.biomarker_name = ANY(${params.add(names)}::text[]))` : byName;
}
