import type { DateParameter } from '../definition';
import { InvalidSearch } from '../errors';
import { or, type SqlParams } from '../sql';
import { splitOr } from './token';

export const PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'] as const;
export type Prefix = (typeof PREFIXES)[number];

/** A prefix and the rest of the value (`ge2026-01` -> ['ge', '2026-01']); eq when there is none. */
export function splitPrefix(value: string): [Prefix, string] {
  const head = value.slice(0, 2) as Prefix;
  return PREFIXES.includes(head) && value.length > 2 && /[\d-]/.test(value[2]) ? [head, value.slice(2)] : ['eq', value];
}

/** [start, end) in milliseconds: the whole interval the value's precision names. */
export interface DateRange {
  start: number;
  end: number;
}

const DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * A FHIR date or dateTime search value as the interval it means: `2026` is the whole year, `2026-03`
 * the month, `2026-03-05T10:00` that minute. A time without an offset is read as UTC (this server's
 * time zone). Returns null when the value is not a valid date.
 */
export function parseDateRange(value: string): DateRange | null {
  const m = DATE.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  if (year < 1) return null; // there is no year 0
  const month = mo === undefined ? 1 : Number(mo);
  const day = d === undefined ? 1 : Number(d);
  if (month < 1 || month > 12 || day < 1 || day > utc(year, month, 0).getUTCDate()) return null;
  const hour = h === undefined ? 0 : Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = s === undefined ? 0 : Number(s);
  if (hour > 23 || minute > 59 || second > 59) return null;
  const ms = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  let offset = 0;
  if (tz && tz !== 'Z') {
    const [oh, om] = tz.slice(1).split(':').map(Number);
    if (oh > 14 || om > 59) return null;
    offset = (tz[0] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  const start = utc(year, month - 1, day, hour, minute, second, ms).getTime() - offset;
  let end: number;
  if (mo === undefined) end = utc(year + 1, 0, 1).getTime();
  else if (d === undefined) end = utc(year, month, 1).getTime();
  else if (h === undefined) end = utc(year, month - 1, day + 1).getTime();
  else if (s === undefined) end = start + 60_000;
  else if (frac === undefined) end = start + 1_000;
  else end = start + Math.max(1, 10 ** (3 - Math.min(frac.length, 3)));
  return { start, end };
}

const MIN_MS = utc(1, 0, 1).getTime();
const MAX_MS = utc(10000, 0, 1).getTime();

/** An instant as Postgres reads it; beyond the years 1-9999 (offsets, ap's slack) it is -infinity/infinity. */
export function timestampText(ms: number): string {
  if (ms < MIN_MS) return '-infinity';
  if (ms >= MAX_MS) return 'infinity';
  return new Date(ms).toISOString();
}

/** Date.UTC without its quirk of reading years 0-99 as 1900-1999. */
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  date.setUTCHours(hour, minute, second, ms);
  return date;
}

/**
 * One comma-separated date value (OR of its parts) against a column that is either an instant (a
 * point) or a day (the interval [day, day + 1)). Prefix semantics follow FHIR R4 §3.1.1.4.2.2: eq means
 * the search interval contains the target, gt/lt that the target reaches beyond it, sa/eb that it lies
 * entirely after/before it, ap that it overlaps the interval widened by 10% of its distance from now.
 */
export function datePredicate(params: SqlParams, name: string, parameter: DateParameter, modifier: string | null, value: string, now = Date.now()): string {
  if (modifier !== null) throw new InvalidSearch(`Modifier :${modifier} is not supported on date parameter ${name}; only :missing`, `${name}:${modifier}`);
  return or(
    splitOr(value).map((part) => {
      const [prefix, raw] = splitPrefix(part);
      const range = parseDateRange(raw);
      if (!range) {
        throw new InvalidSearch(
          `${name}=${part} is not a date: use [prefix]YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][Z|+hh:mm] (prefixes eq ne gt lt ge le sa eb ap)`,
          name,
        );
      }
      return rangePredicate(params, parameter, prefix, range, now);
    }),
  );
}

function rangePredicate(params: SqlParams, parameter: DateParameter, prefix: Prefix, range: DateRange, now: number): string {
  const bound = (ms: number) => `${params.add(timestampText(ms))}::timestamptz`;
  // Target interval [ts, te): an instant is a point (te = ts, inclusive); a day runs to the next midnight UTC.
  const ts = parameter.precision === 'day' ? `((${parameter.column})::date::timestamp AT TIME ZONE 'UTC')` : `(${parameter.column})`;
  const point = parameter.precision === 'instant';
  const te = point ? ts : `(${ts} + interval '1 day')`;
  const s = () => bound(range.start);
  const e = () => bound(range.end);
  const eq = () => (point ? `${ts} >= ${s()} AND ${ts} < ${e()}` : `${ts} >= ${s()} AND ${te} <= ${e()}`);
  switch (prefix) {
    case 'eq':
      return eq();
    case 'ne':
      // Like HAPI and Medplum: a resource without a value is not "not equal" to anything.
      return `${ts} IS NOT NULL AND NOT (${eq()})`;
    case 'gt':
      return point ? `${ts} >= ${e()}` : `${te} > ${e()}`;
    case 'lt':
      return `${ts} < ${s()}`;
    case 'ge':
      return point ? `${ts} >= ${s()}` : `(${ts} >= ${s()} OR ${te} > ${e()})`;
    case 'le':
      return point ? `${ts} < ${e()}` : `(${te} <= ${e()} OR ${ts} < ${s()})`;
    case 'sa':
      return `${ts} >= ${e()}`;
    case 'eb':
      return point ? `${ts} < ${s()}` : `${te} <= ${s()}`;
    case 'ap': {
      const slack = 0.1 * Math.abs(now - range.start);
      return point ? `${ts} >= ${bound(range.start - slack)} AND ${ts} < ${bound(range.end + slack)}` : `${te} > ${bound(range.start - slack)} AND ${ts} < ${bound(range.end + slack)}`;
    }
  }
}
