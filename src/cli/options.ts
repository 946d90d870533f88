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
