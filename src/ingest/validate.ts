import Ajv, { type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';
import { unstorableJson as unstorable } from '../validation/unstorable-json';
import { UUID } from '../db/context';
import { invalidResource, unprocessable, type OutcomeError } from '../fhir/outcomes';
import { PIPELINES, type NormalizedDocument, type Pipeline, type ResultDocument } from '../../mappings/pipeline-result';
import { documentSchema, resultSchema } from './schemas';

/**
 * Whether a result document can be stored, and if not, every reason why, each naming its field
 * (`result.dr_grade`, `biomarkers[2].value`).
 *
 * Two kinds of problem, two statuses:
 *   - the document does not have the shape (wrong type, unknown or missing field, malformed date or
 *     uuid, patient with neither or both of id and identifier): 400;
 *   - it has the shape, but a value breaks a MediLens rule, so it cannot be stored (a range, a CHECK,
 *     a column's length or precision, a closed vocabulary, a duplicate id, a NUL character): 422.
 * A document with both kinds is a 400 listing all of them.
 */

export type IssueKind = 'structure' | 'rule';

export interface DocumentIssue {
  readonly kind: IssueKind;
  readonly diagnostics: string;
  /** Where, e.g. `biomarkers[2].value`; the document itself is `$`. */
  readonly expression: string[];
}

/** ajv keywords whose failure means the document does not have the shape; every other keyword is a rule. */
const STRUCTURAL = new Set(['type', 'required', 'additionalProperties', 'format', 'minProperties', 'maxProperties']);

/** How deep JSON may nest inside the JSONB fields: deeper documents are not pipeline output, and would exhaust a stack. */

const EARLIEST = new Date('0001-01-01T00:00:00Z').getTime();
const LATEST = new Date('9999-12-31T23:59:59.999Z').getTime();
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(\.\d+)?(Z|[+-](0\d|1[0-5]):[0-5]\d)$/;

/**
 * RFC 3339 with an offset (a time without one would be read in the database session's time zone), a
 * real calendar day, and an instant within the years 1 to 9999 (what FHIR instants can express).
 */
function isDateTime(value: string): boolean {
  const m = DATE_TIME.exec(value);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const calendar = new Date(Date.UTC(2000, month - 1, day));
  calendar.setUTCFullYear(year);
  if (year < 1 || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return false;
  const instant = new Date(value.replace(/(\.\d{3})\d+/, '$1')).getTime();
  return instant >= EARLIEST && instant <= LATEST;
}

interface Validators {
  document: ValidateFunction;
  results: Record<Pipeline, ValidateFunction>;
}

let compiled: Validators | null = null;

/** Compiled on first use (a few milliseconds) and kept: the schemas are constants. */
function validators(): Validators {
  if (compiled) return compiled;
  // verbose: messages quote the SQL type from the failing schema's description.
  const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
  ajv.addFormat('uuid', UUID);
  ajv.addFormat('date-time', { type: 'string', validate: isDateTime });
  compiled = {
    document: ajv.compile(documentSchema),
    results: Object.fromEntries(PIPELINES.map((p) => [p, ajv.compile(resultSchema(p))])) as Record<Pipeline, ValidateFunction>,
  };
  return compiled;
}

/** Every problem of `body` as a result document; none means it can be written. */
export function documentIssues(body: unknown): DocumentIssue[] {
  const { document, results } = validators();
  const issues: DocumentIssue[] = [];
  if (!document(body)) issues.push(...describe(document.errors ?? [], ''));
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return issues;
  const doc = body as Record<string, unknown>;
  const pipeline = doc.pipeline as Pipeline;
  const result = doc.result;
  if (PIPELINES.includes(pipeline) && result !== null && typeof result === 'object' && !Array.isArray(result)) {
    const validate = results[pipeline];
    if (!validate(result)) issues.push(...describe(validate.errors ?? [], 'result', pipeline));
  }
  issues.push(...duplicateIds(doc.biomarkers), ...unstorableJson(body));
  return issues;
}

/** The issues as ONE OperationOutcome error: 400 when any is structural, else 422. */
export function documentOutcome(issues: readonly DocumentIssue[]): OutcomeError {
  const plain = issues.map(({ diagnostics, expression }) => ({ diagnostics, expression }));
  return issues.some((i) => i.kind === 'structure') ? invalidResource(plain) : unprocessable(plain);
}

/** The document with its defaults, or the OutcomeError naming every problem. */
export function parseResultDocument(body: unknown): NormalizedDocument {
  const issues = documentIssues(body);
  if (issues.length) throw documentOutcome(issues);
  const doc = body as ResultDocument;
  return {
    ...doc,
    pipeline_version: doc.pipeline_version ?? '1.0.0',
    status: doc.status ?? 'completed',
    stages: doc.stages ?? [],
    biomarkers: doc.biomarkers ?? [],
  };
}

function describe(errors: readonly ErrorObject[], prefix: string, pipeline?: Pipeline): DocumentIssue[] {
  const issues: DocumentIssue[] = [];
  const typeFailed = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const seen = new Set<string>();
  for (const error of errors) {
    // A value of the wrong type also fails its enum and bounds: its type is the one thing to say.
    if (error.keyword !== 'type' && typeFailed.has(error.instancePath)) continue;
    const path = fieldPath(prefix, error);
    const diagnostics = message(error, path, pipeline);
    if (seen.has(diagnostics)) continue;
    seen.add(diagnostics);
    issues.push({ kind: STRUCTURAL.has(error.keyword) ? 'structure' : 'rule', diagnostics, expression: [path || '$'] });
  }
  return issues;
}

/** `/biomarkers/2/value` under `result` -> `result.biomarkers[2].value`; a missing or unknown field names itself. */
function fieldPath(prefix: string, error: ErrorObject): string {
  const segments = error.instancePath === '' ? [] : error.instancePath.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  const named = params.missingProperty ?? params.additionalProperty;
  if (named !== undefined) segments.push(named);
  let path = prefix;
  for (const segment of segments) {
    if (/^\d+$/.test(segment)) path += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) path += path ? `.${segment}` : segment;
    else path += `[${JSON.stringify(segment)}]`;
  }
  return path;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  object: 'a JSON object',
  array: 'an array',
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'true or false',
  null: 'null',
};

function message(error: ErrorObject, path: string, pipeline?: Pipeline): string {
  const where = path || 'The result document';
  const sql = (error.parentSchema as SchemaObject | undefined)?.description as string | undefined;
  const stored = sql ? ` (stored as ${sql})` : '';
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'type': {
      const types = ([] as string[]).concat(p.type as string | string[]).map((t) => TYPE_NAMES[t] ?? t);
      return `${where} must be ${types.join(' or ')}`;
    }
    case 'required':
      return `${where} is required`;
    case 'additionalProperties':
      return pipeline
        ? `${where} is not a column of ${pipeline} results; remove it`
        : `${where} is not a field of the result document; remove it`;
    case 'format':
      return p.format === 'uuid'
        ? `${where} must be a UUID`
        : `${where} must be a date-time with a UTC offset between the years 1 and 9999, e.g. 2026-03-01T10:00:00Z`;
    case 'minProperties':
      return `${where} must name the patient by id or by identifier`;
    case 'maxProperties':
      return `${where} takes one of id or identifier, not both`;
    case 'enum':
      return `${where} must be one of: ${(p.allowedValues as unknown[]).filter((v) => v !== null).join(', ')}`;
    case 'minimum':
      return `${where} must be at least ${p.limit}${stored}`;
    case 'maximum':
      return `${where} must be at most ${p.limit}${stored}`;
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      // Only DECIMAL(p,s) bounds are exclusive: what survives rounding to s places.
      const [, precision, scale] = /DECIMAL\((\d+),(\d+)\)/.exec(sql ?? '') ?? [];
      if (precision === undefined) return `${where} must be ${error.keyword === 'exclusiveMinimum' ? 'greater' : 'less'} than ${p.limit}`;
      const largest = `${'9'.repeat(Number(precision) - Number(scale))}.${'9'.repeat(Number(scale))}`;
      return `${where} must be between -${largest} and ${largest}${stored}, once rounded to ${scale} decimals`;
    }
    case 'minLength':
      return `${where} must not be empty`;
    case 'maxLength':
      return `${where} must be at most ${p.limit} characters${stored}`;
    case 'maxItems':
      return `${where} may have at most ${p.limit} entries`;
    default:
      return `${where} ${error.message ?? 'is not valid'}`;
  }
}

/** A biomarker id fixed twice in one document would be one Observation for two values. */
function duplicateIds(biomarkers: unknown): DocumentIssue[] {
  if (!Array.isArray(biomarkers)) return [];
  const first = new Map<string, number>();
  const issues: DocumentIssue[] = [];
  biomarkers.forEach((b, i) => {
    const id = (b as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' || !UUID.test(id)) return;
    const key = id.toLowerCase();
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, i);
    else issues.push({ kind: 'rule', diagnostics: `biomarkers[${i}].id repeats the id of biomarkers[${earlier}]`, expression: [`biomarkers[${i}].id`] });
  });
  return issues;
}

/** NUL characters and runaway nesting (src/validation/unstorable-json.ts), as rule issues of the document. */
function unstorableJson(body: unknown): DocumentIssue[] {
  return unstorable(body).map((issue) => ({ kind: 'rule' as const, ...issue }));
}
