import { UCUM, ucumCode, unitSpellings } from '../../../mappings/units';
import type { QuantityParameter } from '../definition';
import { InvalidSearch } from '../errors';
import { and, or, type SqlParams } from '../sql';
import { splitPrefix } from './date';
import { splitOr, splitUnescaped, unescapeValue } from './token';

const NUMBER = /^[+-]?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * `[prefix]number[|system|code]`. eq/ne honour the value's precision (`5.4` is [5.35, 5.45)), ap is
 * within 10%; sa and eb have no meaning for a quantity. A UCUM system matches every MediLens unit
 * spelling that is that UCUM code; without a system the code matches the unit as written or as UCUM.
 */
export function quantityPredicate(params: SqlParams, name: string, parameter: QuantityParameter, modifier: string | null, value: string): string {
  if (modifier !== null) throw new InvalidSearch(`Modifier :${modifier} is not supported on quantity parameter ${name}; only :missing`, `${name}:${modifier}`);
  return or(
    splitOr(value).map((part) => {
      const pieces = splitUnescaped(part, '|');
      if (pieces.length !== 1 && pieces.length !== 3) throw malformed(name, part);
      const [prefix, numberText] = splitPrefix(pieces[0]);
      const m = NUMBER.exec(numberText);
      if (!m) throw malformed(name, part);
      // The implicit precision: half a unit of the last digit given (1e2 is [50, 150), 5.4 is [5.35, 5.45)).
      const lastDigit = Number(m[3] ?? 0) - (m[2]?.length ?? 0);
      const conditions = [numberPredicate(params, name, parameter.valueColumn, prefix, Number(numberText), lastDigit)];
      if (pieces.length === 3) {
        const [system, code] = [unescapeValue(pieces[1]), unescapeValue(pieces[2])];
        if (code === '') throw malformed(name, part);
        conditions.push(unitPredicate(params, parameter.unitColumn, system === '' ? null : system, code));
      }
      return and(conditions);
    }),
  );
}

function numberPredicate(params: SqlParams, name: string, column: string, prefix: string, n: number, lastDigit: number): string {
  const half = 0.5 * 10 ** lastDigit;
  // Rounded to one digit beyond the value's own, so 5.4 - 0.05 is 5.35 and not 5.3500000000000005.
  const digits = Math.max(0, Math.min(15, 1 - lastDigit));
  const v = (x: number) => `${params.add(Number(x.toFixed(digits)))}::float8`;
  switch (prefix) {
    case 'eq':
      return `${column} >= ${v(n - half)} AND ${column} < ${v(n + half)}`;
    case 'ne':
      return `${column} IS NOT NULL AND NOT (${column} >= ${v(n - half)} AND ${column} < ${v(n + half)})`;
    case 'gt':
      return `${column} > ${v(n)}`;
    case 'lt':
      return `${column} < ${v(n)}`;
    case 'ge':
      return `${column} >= ${v(n)}`;
    case 'le':
      return `${column} <= ${v(n)}`;
    case 'ap':
      return `${column} >= ${v(n - Math.abs(n) * 0.1)} AND ${column} <= ${v(n + Math.abs(n) * 0.1)}`;
    default:
      throw new InvalidSearch(`Prefix ${prefix} is not meaningful for quantity parameter ${name}; use eq ne gt lt ge le ap`, name);
  }
}

function unitPredicate(params: SqlParams, column: string, system: string | null, code: string): string {
  if (system !== null && system !== UCUM) return 'FALSE';
  if (system === UCUM && ucumCode(code) !== code) return 'FALSE';
  const { exact, lowercase } = unitSpellings(code);
  const byAlias = lowercase.length ? ` OR lower(${column}) = ANY(${params.add(lowercase)}::text[])` : '';
  return `(${column} = ANY(${params.add(exact)}::text[])${byAlias})`;
}

const malformed = (name: string, part: string) =>
  new InvalidSearch(`${name}=${part} is not a quantity: use [prefix]number, or [prefix]number|system|code (e.g. gt100|http://unitsofmeasure.org|/min)`, name);
