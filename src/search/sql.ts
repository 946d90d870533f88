/**
 * Bind parameters for one statement: add() returns the placeholder. Request values only ever enter SQL
 * through here.
 */
export class SqlParams {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** AND of the parts; TRUE when there are none. */
export const and = (parts: string[]): string => (parts.length === 0 ? 'TRUE' : parts.map((p) => `(${p})`).join(' AND '));
/** OR of the parts; FALSE when there are none. */
export const or = (parts: string[]): string => (parts.length === 0 ? 'FALSE' : parts.map((p) => `(${p})`).join(' OR '));
