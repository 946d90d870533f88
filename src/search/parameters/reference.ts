import { UUID } from '../../db/context';
import type { ReferenceParameter, SearchReference } from '../definition';
import { InvalidSearch } from '../errors';
import { and, type SqlParams } from '../sql';
import { splitOr, unescapeValue } from './token';

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const RELATIVE = /^([A-Z][A-Za-z]+)\/([^/]+)$/;

/**
 * The references one value names: `id` (any target type), `Type/id`, or an absolute URL on this
 * server's base (`{base}/Type/id`). `:Type` as modifier narrows a bare id to that type. A reference to
 * a type the parameter cannot point at, or to another server, is a client error; a well-formed id that
 * no MediLens row can have (not a UUID) simply matches nothing. A parameter with bareValues takes any
 * value without a type as it is (an OAuth client id, a token subject, even a URL of another server),
 * marked bare.
 */
export function parseReferences(name: string, parameter: ReferenceParameter, modifier: string | null, value: string, base: string): SearchReference[] {
  if (modifier !== null && !parameter.targets.includes(modifier)) {
    throw new InvalidSearch(`Modifier :${modifier} is not supported on reference parameter ${name}; it refers to ${parameter.targets.join(', ')}`, `${name}:${modifier}`);
  }
  const refs: SearchReference[] = [];
  for (const part of splitOr(value)) {
    let text = unescapeValue(part);
    const ours = text.startsWith(`${base}/`);
    if (/^https?:\/\//.test(text)) {
      if (ours) text = text.slice(base.length + 1);
      else if (!parameter.bareValues) throw new InvalidSearch(`${name}=${text} refers to another server; use Type/id or an id on ${base}`, name);
    }
    const match = RELATIVE.exec(text);
    // For bareValues, Type/id is a reference only when Type is a target: 'Google/x' may be a subject.
    const relative = match !== null && (!parameter.bareValues || parameter.targets.includes(match[1])) ? match : null;
    const bare = relative === null && modifier === null && parameter.bareValues === true;
    if (bare) {
      if (text === '') throw new InvalidSearch(`${name} has an empty value in "${value}"`, name);
      for (const type of parameter.targets) refs.push({ type, id: text, bare: true });
      continue;
    }
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
export function referencesPredicate(params: SqlParams, parameter: ReferenceParameter, refs: readonly SearchReference[]): string {
  // Bare values of a bareValues parameter are its own to judge; typed references must name a MediLens id.
  const usable = refs.filter((ref) => ref.bare === true || UUID.test(ref.id));
  if (usable.length === 0) return 'FALSE';
  if (parameter.where) return parameter.where(params, usable);
  const column = parameter.column!;
  return and([`${column} = ANY(${params.add([...new Set(usable.map((r) => r.id))])}::uuid[])`]);
}
