import {
  BIOMARKER_CODES,
  DEFAULT_CATEGORY,
  LOINC,
  medilensSystems,
  OBSERVATION_CATEGORY,
  PIPELINE_CATEGORY,
} from '../../../mappings/codes';
import { toObservation, type ObservationRow } from '../../../mappings/observation';
import type { ResourceDefinition } from '../definition';
import { or, type SqlParams } from '../sql';
import type { Token } from '../token';

/** Observation <- biomarker_values, joined to the assessment that measured it and the model that ran. */
export function observationDefinition(canonicalBase: string): ResourceDefinition<ObservationRow> {
  const systems = medilensSystems({ canonicalBase });
  return {
    type: 'Observation',
    select: `bv.id, bv.user_id, bv.biomarker_name, bv.value::float8 AS value, bv.unit,
             bv.normal_range_min::float8 AS normal_range_min, bv.normal_range_max::float8 AS normal_range_max,
             bv.status, bv.confidence::float8 AS confidence, bv.percentile::float8 AS percentile, bv.created_at,
             a.pipeline_type, a.status AS assessment_status, a.requires_review, a.created_at AS effective_at,
             m.id AS device_id, a.deleted_at`,
    from: `biomarker_values bv
           JOIN assessments a ON a.id = bv.assessment_id
           LEFT JOIN model_registry m ON m.pipeline_type = a.pipeline_type AND m.version = a.pipeline_version`,
    idColumn: 'bv.id',
    organizationColumn: 'bv.organization_id',
    patientColumn: 'bv.user_id',
    deletedColumn: 'a.deleted_at',
    parameters: {
      category: {
        type: 'token',
        description: 'observation-category (vital-signs, imaging, exam, procedure, survey) or MediLens pipeline',
        where: (params, token) => categoryPredicate(params, token, systems.pipeline),
      },
      code: {
        type: 'token',
        description: 'LOINC code, or MediLens biomarker code',
        where: (params, token) => codePredicate(params, token, systems.biomarker),
      },
    },
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
function categoryPredicate(params: SqlParams, token: Token, pipelineSystem: string): string {
  const parts: string[] = [];
  if (token.system === undefined || token.system === OBSERVATION_CATEGORY) {
    if (token.code === null) return 'TRUE';
    const code = token.code;
    const names = OVERRIDDEN.filter(([, c]) => c.category === code).map(([name]) => name);
    if (names.length) parts.push(`bv.biomarker_name = ANY(${params.add(names)}::text[])`);
    const pipelines = KNOWN_PIPELINES.filter((p) => PIPELINE_CATEGORY[p] === code);
    // Bound only where used: an unreferenced bind value is a protocol error in Postgres.
    const notOverridden = () => `bv.biomarker_name <> ALL(${params.add(OVERRIDDEN_NAMES)}::text[])`;
    if (pipelines.length) parts.push(`a.pipeline_type = ANY(${params.add(pipelines)}::text[]) AND ${notOverridden()}`);
    if (code === DEFAULT_CATEGORY) parts.push(`a.pipeline_type <> ALL(${params.add(KNOWN_PIPELINES)}::text[]) AND ${notOverridden()}`);
  }
  if (token.system === undefined || token.system === pipelineSystem) {
    if (token.code === null) return 'TRUE';
    parts.push(`a.pipeline_type = ${params.add(token.code)}`);
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
  return names.length === 0 ? 'FALSE' : `bv.biomarker_name = ANY(${params.add(names)}::text[])`;
}
