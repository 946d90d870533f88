import type { ValueTransformer } from 'typeorm';

/**
 * DECIMAL/NUMERIC columns arrive from the pg driver (and Neon's) as strings, so that no digit is lost.
 * The widest in the schema is DECIMAL(12,6): twelve significant digits, well inside the fifteen a double
 * round-trips exactly, so a number is safe and spares every caller a parseFloat.
 */
export const decimal = {
  to: (value: number | null | undefined): number | null | undefined => value,
  from: (value: string | number | null | undefined): number | null =>
    value === null || value === undefined ? null : Number(value),
} satisfies ValueTransformer;

/**
 * BIGINT arrives as a string for the same reason. File sizes and access-log ids stay far below 2^53;
 * should one ever exceed it, fail loudly instead of handing out a silently rounded id.
 */
export const bigint = {
  to: (value: number | null | undefined): number | null | undefined => value,
  from: (value: string | number | null | undefined): number | null => {
    if (value === null || value === undefined) return null;
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new RangeError(`BIGINT ${String(value)} does not fit a JavaScript number`);
    return n;
  },
} satisfies ValueTransformer;
