import { UUID } from '../../db/context';
import type { TokenParameter } from '../definition';
import { InvalidSearch } from '../errors';
import { or, type SqlParams } from '../sql';

/**
 * A token search value: `code` (any system), `system|code`, `|code` (no system) or `system|` (any code
 * in the system). Escaped `\|` and `\,` are literal.
 */
export interface Token {
  /** undefined: any system; null: no system at all. */
  system: string | undefined | null;
  /** null: any code. */
  code: string | null;
}

export function parseToken(value: string): Token | null {
  const bar = findUnescaped(value, '|');
  if (bar < 0) return value === '' ? null : { system: undefined, code: unescape(value) };
  const system = unescape(value.slice(0, bar));
  const code = unescape(value.slice(bar + 1));
  if (system === '' && code === '') return null;
  return { system: system === '' ? null : system, code: code === '' ? null : code };
}

/** Splits a parameter value on unescaped commas (OR). */
export const splitOr = (value: string): string[] => splitUnescaped(value, ',');

/** Splits on `char` where it is not escaped with a backslash (commas between values, bars in a quantity). */
export function splitUnescaped(value: string, char: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === char) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

function findUnescaped(value: string, char: string): number {
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === char) return i;
  }
  return -1;
}

const unescape = (s: string): string => s.replace(/\\([\\|,$])/g, '$1');

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** `_id`: a token whose code is the resource id; an id that is no MediLens id (a UUID) matches nothing. */
export function idPredicate(params: SqlParams, token: Token, column: string): string {
  if (token.system !== undefined || token.code === null) return 'FALSE';
  if (!FHIR_ID.test(token.code)) throw new InvalidSearch(`_id ${token.code} is not a FHIR id`, '_id');
  return UUID.test(token.code) ? `${column} = ${params.add(token.code)}::uuid` : 'FALSE';
}

/**
 * A token parameter's predicate for one comma-separated value (OR of its parts). :not negates the
 * whole OR and keeps resources without a value; :text matches display text where the parameter has it.
 */
export function tokenPredicate(params: SqlParams, name: string, parameter: TokenParameter, modifier: string | null, value: string): string {
  const parts = splitOr(value);
  if (modifier === 'text') {
    if (!parameter.text) throw new InvalidSearch(`${name}:text is not supported: ${name} has no display text to match`, `${name}:text`);
    return or(parts.map((text) => parameter.text!(params, unescapeValue(text))));
  }
  if (modifier !== null && modifier !== 'not') {
    throw new InvalidSearch(`Modifier :${modifier} is not supported on token parameter ${name}; use :not, :text or :missing`, `${name}:${modifier}`);
  }
  const alternatives = parts.map((part) => {
    const token = parseToken(part);
    if (!token) throw new InvalidSearch(`${name} has an empty token in "${value}"; use code, system|code, |code or system|`, name);
    return parameter.where(params, token);
  });
  return modifier === 'not' ? `NOT COALESCE(${or(alternatives)}, FALSE)` : or(alternatives);
}

/** A value with its FHIR escapes (\, \| \$ \\) removed. */
export const unescapeValue = (s: string): string => s.replace(/\\([\\|,$])/g, '$1');
