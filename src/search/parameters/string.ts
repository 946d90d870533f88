import type { StringParameter } from '../definition';
import { InvalidSearch } from '../errors';
import { or, type SqlParams } from '../sql';
import { splitOr, unescapeValue } from './token';

/** LIKE's own wildcards in a value are literal characters. */
const escapeLike = (value: string): string => value.replace(/[\\%_]/g, '\\$&');

/**
 * A string parameter: by default the column's value starts with the search value, ignoring case and accents
 * (search_fold, an IMMUTABLE SQL function, so the name indexes apply); :contains anywhere in it;
 * :exact the whole value, case and accents included.
 */
export function stringPredicate(params: SqlParams, name: string, parameter: StringParameter, modifier: string | null, value: string): string {
  if (modifier !== null && modifier !== 'exact' && modifier !== 'contains') {
    throw new InvalidSearch(`Modifier :${modifier} is not supported on string parameter ${name}; use :exact, :contains or :missing`, `${name}:${modifier}`);
  }
  return or(
    splitOr(value).map((part) => {
      const text = unescapeValue(part);
      if (text === '') throw new InvalidSearch(`${name} has an empty value in "${value}"`, name);
      if (modifier === 'exact') {
        const p = params.add(text);
        return or(parameter.columns.map(({ column }) => `${column} = ${p}`));
      }
      if (modifier === 'contains') {
        const p = `search_fold(${params.add(`%${escapeLike(text)}%`)})`;
        return or(parameter.columns.map(({ column, folded }) => `${folded ?? `search_fold(${column})`} LIKE ${p}`));
      }
      // Starts-with as a range of the folded value: leakproof operators on a plain column, so an index
      // applies under row-level security; the bounds are computed once (InitPlans), not per row.
      // Bound only when used: an unreferenced bind value is an error in Postgres.
      let p: string | undefined;
      return or(
        parameter.columns.map(({ column, folded }) => {
          if (!folded) return `search_fold(${column}) LIKE search_fold(${params.add(`${escapeLike(text)}%`)})`;
          p ??= params.add(text);
          return `${folded} ~>=~ (SELECT search_fold(${p})) AND ${folded} ~<~ (SELECT search_fold(${p}) || chr(1114111))`;
        }),
      );
    }),
  );
}
