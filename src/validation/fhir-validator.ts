import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json';
import schema from './fhir-r4.schema.json';
import { ACCEPTED_TYPES } from './extract-schema';
import { unstorableJson } from './unstorable-json';

export type AcceptedType = (typeof ACCEPTED_TYPES)[number];

/** One problem found in a resource: what is wrong and where, as a FHIRPath expression. */
export interface ValidationIssue {
  readonly diagnostics: string;
  readonly expression: string[];
}

/**
 * Structural validation against the FHIR R4 JSON Schema: element types, cardinality (array or not),
 * required elements, unknown elements, primitive formats and the required code bindings the schema
 * carries as enums. Compiled once per process (about 0.3 s); a validation costs microseconds.
 */
export class FhirValidator {
  private readonly validators = new Map<AcceptedType, ValidateFunction>();

  constructor() {
    // The schema is draft-06 and its string patterns are not valid under the unicode flag.
    const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
    ajv.addMetaSchema(draft06);
    ajv.addSchema(schema);
    for (const type of ACCEPTED_TYPES) {
      this.validators.set(type, ajv.getSchema(`${schema.$id}#/definitions/${type}`)!);
    }
  }

  static isAccepted(type: string): type is AcceptedType {
    return (ACCEPTED_TYPES as readonly string[]).includes(type);
  }

  /** Every structural issue of `resource` as a `type`; `at` prefixes the expressions (a Bundle entry). */
  validate(type: AcceptedType, resource: unknown, at: string = type): ValidationIssue[] {
    // First what no schema should be asked to walk: a recursive validator overflows on runaway nesting.
    const unstorable = unstorableJson(resource, at);
    if (unstorable.length) return unstorable;
    const validate = this.validators.get(type)!;
    const issues = validate(resource) ? [] : describe(validate.errors ?? [], at);
    if (resource !== null && typeof resource === 'object' && !Array.isArray(resource)) {
      for (const name of REQUIRED_PRIMITIVES[type] ?? []) {
        const present = (resource as Record<string, unknown>)[name] !== undefined;
        if (!present) issues.push({ diagnostics: `Missing required element '${name}' at ${at}`, expression: [`${at}.${name}`] });
      }
    }
    return issues;
  }
}

/**
 * Primitive elements of cardinality 1..1: the JSON Schema cannot require them, since the value may
 * stand in the _element extension twin, but a resource without the value itself is unusable to us.
 */
const REQUIRED_PRIMITIVES: Partial<Record<AcceptedType, string[]>> = {
  Observation: ['status'],
  DiagnosticReport: ['status'],
  Bundle: ['type'],
};

const MAX_ISSUES = 20;

function describe(errors: ErrorObject[], at: string): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const issue = toIssue(error, at);
    // One issue per element: a boolean's schema says both "type" and "enum", for instance.
    const key = issue.expression[0];
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
    if (issues.length === MAX_ISSUES) break;
  }
  return issues;
}

function toIssue(error: ErrorObject, at: string): ValidationIssue {
  const path = fhirPath(at, error.instancePath);
  switch (error.keyword) {
    case 'additionalProperties': {
      const name = String((error.params as { additionalProperty: string }).additionalProperty);
      return { diagnostics: `Unknown element '${name}' at ${path}`, expression: [`${path}.${name}`] };
    }
    case 'required': {
      const name = String((error.params as { missingProperty: string }).missingProperty);
      return { diagnostics: `Missing required element '${name}' at ${path}`, expression: [`${path}.${name}`] };
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
      return { diagnostics: `${path} must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`, expression: [path] };
    }
    case 'const':
      return { diagnostics: `${path} must be ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}`, expression: [path] };
    case 'type': {
      const expected = (error.params as { type: string }).type;
      return { diagnostics: `${path} must be ${expected === 'array' ? 'an array' : `a JSON ${expected}`}`, expression: [path] };
    }
    case 'pattern':
      return { diagnostics: `${path} is not a valid value for its FHIR type`, expression: [path] };
    case 'minItems':
      return { diagnostics: `${path} must not be an empty array`, expression: [path] };
    default:
      return { diagnostics: `${path} ${error.message ?? 'is invalid'}`, expression: [path] };
  }
}

/** /name/0/given -> Patient.name[0].given */
function fhirPath(at: string, instancePath: string): string {
  let path = at;
  for (const segment of instancePath.split('/').slice(1)) {
    const name = segment.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^\d+$/.test(name) ? `[${name}]` : `.${name}`;
  }
  return path;
}
