import type { SchemaObject } from 'ajv';

/**
 * JSON Schema fragments for MediLens columns, so that everything the database would reject is rejected
 * by the schema first, with a message naming the field. Each fragment's `description` is the SQL type;
 * validation messages quote it.
 */

const SMALLINT: readonly [number, number] = [-32768, 32767];
const INT: readonly [number, number] = [-2147483648, 2147483647];

interface Bounds {
  /** Inclusive bounds: a CHECK constraint, or what a value of the kind can be (a count is never negative). */
  min?: number;
  max?: number;
}

/**
 * DECIMAL(p,s). Postgres rounds to s places and then requires |value| < 10^(p-s): 9.9995 becomes 10.000
 * and overflows DECIMAL(4,3). So the bound is 99..9.99..95, written out as text so that the double a JSON
 * parser makes of it is the very same one a client's 9.9995 becomes. A CHECK's bounds are exact at the
 * column's scale, so rounding can never carry an accepted value past them.
 */
export function decimal(precision: number, scale: number, bounds: Bounds = {}): SchemaObject {
  const limit = Number(`${'9'.repeat(precision - scale)}.${'9'.repeat(scale)}5`);
  return {
    type: 'number',
    description: `DECIMAL(${precision},${scale})`,
    ...(bounds.min !== undefined ? { minimum: bounds.min } : { exclusiveMinimum: -limit }),
    ...(bounds.max !== undefined ? { maximum: bounds.max } : { exclusiveMaximum: limit }),
  };
}

function integer(sql: string, [low, high]: readonly [number, number], bounds: Bounds): SchemaObject {
  return { type: 'integer', description: sql, minimum: Math.max(low, bounds.min ?? low), maximum: Math.min(high, bounds.max ?? high) };
}

export const smallint = (bounds: Bounds = {}): SchemaObject => integer('SMALLINT', SMALLINT, bounds);
export const int = (bounds: Bounds = {}): SchemaObject => integer('INT', INT, bounds);

/** Durations and counts: an INT that is never negative. */
export const count = (): SchemaObject => int({ min: 0 });

export const varchar = (length: number, minLength = 0): SchemaObject => ({
  type: 'string',
  description: `VARCHAR(${length})`,
  maxLength: length,
  ...(minLength ? { minLength } : {}),
});

export const text = (minLength = 0): SchemaObject => ({ type: 'string', description: 'TEXT', ...(minLength ? { minLength } : {}) });

/** A closed vocabulary (the seed's documented values) stored in a VARCHAR(length). */
export const vocabulary = (values: readonly string[], length: number): SchemaObject => ({
  type: 'string',
  description: `VARCHAR(${length})`,
  enum: [...values],
});

export const bool = (): SchemaObject => ({ type: 'boolean', description: 'BOOLEAN' });

/** JSONB: any JSON value. */
export const jsonb = (type?: 'object' | 'array'): SchemaObject => ({ description: 'JSONB', ...(type ? { type } : {}) });

export const uuid = (): SchemaObject => ({ type: 'string', description: 'UUID', format: 'uuid' });

/** RFC 3339 date-time with an offset (TIMESTAMPTZ); see the format in ../validate.ts. */
export const dateTime = (): SchemaObject => ({ type: 'string', description: 'TIMESTAMPTZ', format: 'date-time' });

/** The same rule, or null (an optional field a pipeline sends as None). */
export function nullable(schema: SchemaObject): SchemaObject {
  if (schema.type === undefined) return schema; // any JSON value, null included
  const out: SchemaObject = { ...schema, type: [schema.type, 'null'] };
  if (Array.isArray(schema.enum)) out.enum = [...schema.enum, null];
  return out;
}

/**
 * An object of exactly these fields. Every field is optional and may be null, except those `required`
 * and those that, when present, must have a value (`notNull`: ids, defaults, lists).
 */
export function record(
  properties: Record<string, SchemaObject>,
  { required = [], notNull = [] }: { required?: readonly string[]; notNull?: readonly string[] } = {},
): SchemaObject {
  const strict = new Set([...required, ...notNull]);
  return {
    type: 'object',
    additionalProperties: false,
    required: [...required],
    properties: Object.fromEntries(Object.entries(properties).map(([name, s]) => [name, strict.has(name) ? s : nullable(s)])),
  };
}

/** A modality result table: its name, its columns (minus id, assessment_id, created_at) and which are JSONB. */
export interface ModalityTable {
  readonly table: string;
  readonly columns: Readonly<Record<string, SchemaObject>>;
  readonly json: readonly string[];
}
