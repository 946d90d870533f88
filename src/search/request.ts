import type { ResourceDefinition } from './definition';
import { InvalidSearch } from './errors';
import { filterPredicate, type Filter } from './parameters';
import { splitOr } from './parameters/token';
import { SqlParams } from './sql';

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;

export type Total = 'none' | 'estimate' | 'accurate';
export type Summary = 'true' | 'false' | 'data' | 'count' | 'text';

/** A search, parsed and validated: nothing here has touched the database yet. */
export interface SearchRequest {
  /** Each ANDs with the others; a value's commas OR. */
  readonly filters: readonly Filter[];
  readonly sort: readonly { key: string; descending: boolean }[];
  readonly count: number;
  readonly total: Total;
  readonly summary: Summary | null;
  readonly elements: readonly string[] | null;
  /** _include=Type:param (this type's reference parameters). */
  readonly include: readonly string[];
  /** _revinclude=Type:param (another type's reference parameter pointing here). */
  readonly revinclude: readonly { type: string; param: string }[];
  readonly cursor: string | null;
  /** The parameters actually used, in order: what the self link shows. */
  readonly used: readonly [string, string][];
}

/** Which _revinclude each type answers: the other types' definitions, by type. */
export type Definitions = ReadonlyMap<string, ResourceDefinition>;

const IGNORED = new Set(['_format', '_pretty']);
/** Bounds on one search: beyond them a search is an attack on the planner, not a question. */
export const MAX_PARAMETERS = 64;
export const MAX_VALUES = 100;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * Parses a search's parameters against the resource's definition. Repeated parameters AND; an unknown
 * parameter, a modifier the type does not take or a malformed value is a 400 naming it, unless the client
 * sent Prefer: handling=lenient, in which case it is dropped (and left out of the self link).
 */
export function parseSearch(def: ResourceDefinition, definitions: Definitions, query: Readonly<Record<string, readonly string[]>>, lenient: boolean, base: string): SearchRequest {
  const filters: Filter[] = [];
  const used: [string, string][] = [];
  let sort: { key: string; descending: boolean }[] = [];
  let count = DEFAULT_COUNT;
  let total: Total = 'none';
  let summary: Summary | null = null;
  let elements: string[] | null = null;
  const include: string[] = [];
  const revinclude: { type: string; param: string }[] = [];
  let cursor: string | null = null;

  const occurrences = Object.entries(query).reduce((n, [key, values]) => n + (IGNORED.has(key) ? 0 : values.length), 0);
  if (occurrences > MAX_PARAMETERS) {
    throw new InvalidSearch(`A search takes at most ${MAX_PARAMETERS} parameters; this one has ${occurrences}`, Object.keys(query)[0] ?? '_count');
  }
  for (const [key, values] of Object.entries(query)) {
    if (IGNORED.has(key)) continue;
    for (const value of values) {
      try {
        // FHIR strings carry no control characters; Postgres text cannot even hold NUL.
        if (CONTROL_CHARACTERS.test(value) || CONTROL_CHARACTERS.test(key)) throw new InvalidSearch(`${key} contains a control character`, key);
        if (key === '_cursor') {
          cursor = value;
          continue;
        }
        switch (key) {
          case '_count':
            count = parseCount(value);
            continue; // added to `used` once, below
          case '_sort':
            sort = parseSort(def, value);
            break;
          case '_total':
            if (value !== 'none' && value !== 'estimate' && value !== 'accurate') throw new InvalidSearch(`_total must be none, estimate or accurate`, '_total');
            total = value;
            break;
          case '_summary':
            if (!['true', 'false', 'data', 'count', 'text'].includes(value)) throw new InvalidSearch(`_summary must be true, false, data, text or count`, '_summary');
            summary = value as Summary;
            break;
          case '_elements':
            elements = parseElements(value);
            break;
          case '_include':
            include.push(parseInclude(def, value));
            break;
          case '_revinclude':
            revinclude.push(parseRevinclude(def, definitions, value));
            break;
          default:
            filters.push(parseFilter(def, key, value, base));
        }
        used.push([key, value]);
      } catch (err) {
        if (lenient && err instanceof InvalidSearch) continue;
        throw err;
      }
    }
  }
  // _sort, _total, _summary and _elements take their last value: the self link shows only that one.
  const single = new Set(['_sort', '_total', '_summary', '_elements']);
  const shown = used.filter(([key], i) => !single.has(key) || !used.slice(i + 1).some(([later]) => later === key));
  used.length = 0;
  used.push(...shown, ['_count', String(count)]);
  return { filters, sort, count, total, summary, elements, include, revinclude, cursor, used };
}

function parseFilter(def: ResourceDefinition, key: string, value: string, base: string): Filter {
  const colon = key.indexOf(':');
  const name = colon < 0 ? key : key.slice(0, colon);
  const modifier = colon < 0 ? null : key.slice(colon + 1);
  const parameter = Object.hasOwn(def.parameters, name) ? def.parameters[name] : undefined;
  if (!parameter) {
    const known = Object.keys(def.parameters).join(', ');
    throw new InvalidSearch(`Unknown search parameter ${name} for ${def.type}; supported: ${known}, and _count, _sort, _total, _summary, _elements, _include, _revinclude`, key);
  }
  if (value === '') throw new InvalidSearch(`Search parameter ${key} has an empty value`, key);
  if (splitOr(value).length > MAX_VALUES) throw new InvalidSearch(`${key} lists more than ${MAX_VALUES} alternatives`, key);
  const filter = { name, modifier, value };
  // Compiled once here only to reject a malformed value before any database work.
  filterPredicate(new SqlParams(), parameter, filter, base);
  return filter;
}

function parseCount(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidSearch(`_count must be a whole number from 0 to ${MAX_COUNT}, not ${value}`, '_count');
  return Math.min(Number(value), MAX_COUNT);
}

function parseSort(def: ResourceDefinition, value: string): { key: string; descending: boolean }[] {
  return value.split(',').map((raw) => {
    const descending = raw.startsWith('-');
    const key = descending ? raw.slice(1) : raw;
    if (!Object.hasOwn(def.sorts, key)) throw new InvalidSearch(`_sort=${raw} is not supported for ${def.type}; sort by ${Object.keys(def.sorts).join(', ')} (prefix - for descending)`, '_sort');
    return { key, descending };
  });
}

function parseElements(value: string): string[] {
  const names = value.split(',').map((s) => s.trim());
  if (names.some((n) => !/^[a-z][A-Za-z0-9]*(\[x\])?$/.test(n))) throw new InvalidSearch(`_elements must list top-level element names, not ${value}`, '_elements');
  return names;
}

function parseInclude(def: ResourceDefinition, value: string): string {
  const [type, param, target, ...rest] = value.split(':');
  if (value === '*') return '*';
  if (rest.length || type !== def.type || !param || !Object.hasOwn(def.includes, param) || (target !== undefined && target !== def.includes[param].target)) {
    const known = Object.keys(def.includes).map((p) => `${def.type}:${p}`);
    throw new InvalidSearch(`_include=${value} is not supported; ${def.type} supports ${known.length ? known.join(', ') : 'no includes'}`, '_include');
  }
  return param;
}

function parseRevinclude(def: ResourceDefinition, definitions: Definitions, value: string): { type: string; param: string } {
  const [type, param, target, ...rest] = value.split(':');
  const source = definitions.get(type);
  const parameter = source && Object.hasOwn(source.parameters, param) ? source.parameters[param] : undefined;
  if (rest.length || !parameter || parameter.type !== 'reference' || !parameter.targets.includes(target ?? def.type) || (target !== undefined && target !== def.type)) {
    throw new InvalidSearch(`_revinclude=${value} is not supported for ${def.type}; use a reference parameter that points at ${def.type}, e.g. Provenance:target`, '_revinclude');
  }
  return { type, param };
}
