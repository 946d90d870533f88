// commander reports an InvalidArgumentError thrown by an option parser as
// "error: option '--x <v>' argument 'abc' is invalid. <message>" (one line, exit code 2 here).
import { InvalidArgumentError } from 'commander';

/** An integer option within [min, max]. */
export function integerOption(min: number, max: number): (raw: string) => number {
  return (raw: string) => {
    const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return value;
  };
}

/** A date option as YYYY-MM-DD that exists in the calendar. */
export function dateOption(raw: string): string {
  const value = raw.trim();
  const parsed = new Date(`${value}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== value) {
    throw new InvalidArgumentError('expected a date as YYYY-MM-DD');
  }
  return value;
}

const INSTANT = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * An instant as an ISO date (midnight UTC) or date-time; a date-time without an offset is UTC too, so
 * that a command gives the same answer on every machine.
 */
export function instantOption(raw: string): Date {
  const value = raw.trim();
  const m = INSTANT.exec(value);
  const day = m === null ? null : new Date(`${m[1]}T00:00:00Z`);
  // Date rolls 2031-02-30 over into March: the day must survive the round trip.
  const calendarDay = day !== null && !Number.isNaN(day.getTime()) && day.toISOString().startsWith(m![1]);
  const inRange = m !== null && Number(m[2] ?? 0) < 24 && Number(m[3] ?? 0) < 60 && Number(m[4] ?? 0) < 60;
  const parsed = m === null ? null : new Date(m[2] === undefined ? `${m[1]}T00:00:00Z` : m[5] === undefined ? `${value}Z` : value);
  if (!calendarDay || !inRange || parsed === null || Number.isNaN(parsed.getTime())) {
    throw new InvalidArgumentError('expected an ISO date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM])');
  }
  return parsed;
}
