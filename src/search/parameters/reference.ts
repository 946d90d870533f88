import { UUID } from '../../db/context';
import type { ReferenceParameter } from '../definition';
import { InvalidSearch } from '../errors';
import { and, type SqlParams } from '../sql';
import { splitOr, unescapeValue } from './token';

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const RELATIVE = /^([A-Z][A-Za-z]+)\/([^/]+)$/;

/**
 * The references one value names: `id` (any target type), `Type/id`, or an absolute URL on this
 * server's base (`{base}/Type/id`). `:Type` as modifier narrows a bare id to that type. A reference to
 * a type the parameter cannot point at, or to another server, is a client error; a well-formed id that
 * no MediLens row can have (not a UUID) simply matches nothing.
 */
export function parseReferences(name: string, parameter: ReferenceParameter, modifier: string | null, value: string, base: string): { type: string; id: string }[] {
  if (modifier !== null && !parameter.targets.includes(modifier)) {
    throw new InvalidSearch(`Modifier :${modifier} is not supported on reference parameter ${name}; it refers to ${parameter.targets.join(', ')}`, `${name}:${modifier}`);
  }
  const refs: { type: string; id: string }[] = [];
  for (const part of splitOr(value)) {
    let text = unescapeValue(part);
    if (/^https?:\/\//.test(text)) {
      if (!text.startsWith(`${base}/`)) throw new InvalidSearch(`${name}=${text} refers to another server; use Type/id or an id on ${base}`, name);
      text = text.slice(base.length + 1);
    }
    const relative = RELATIVE.exec(text);
    const types = relative ? [relative[1]] : modifier !== null ? [modifier] : parameter.targets;
    const id = relative ? relative[2] : text;
    if (!FHIR_ID.test(id)) throw new InvalidSearch(`${name}=${part} is not a reference: use id, Type/id or ${base}/Type/id`, name);
    for (const type of types) {
      if (!parameter.targets.includes(type)) throw new InvalidSearch(`${name} refers to ${parameter.targets.join(' or ')}, not ${type}`, name);
      if (modifier !== null && type !== modifier) continue;
      refs.push({ type, id });
    }
  }
  return refs;
}

/** Reference parameter predicate: OR over the named references. */
export function referencePredicate(params: SqlParams, name: string, parameter: ReferenceParameter, modifier: string | null, value: string, base: string): string {
  return referencesPredicate(params, parameter, parseReferences(name, parameter, modifier, value, base));
}

/** Matches a resource referring to any of `refs` (also how _revinclude finds its resources). */
export function referencesPredicate(params: SqlParams, parameter: ReferenceParameter, refs: readonly { type: string; id: string }[]): string {
  const usable = refs.filter((ref) => UUID.test(ref.id));
  if (usable.length === 0) return 'FALSE';
  if (parameter.where) return parameter.where(params, usable);
  const column = parameter.column!;
  return and([`${column} = ANY(${params.add([...new Set(usable.map((r) => r.id))])}::uuid[])`]);
}

