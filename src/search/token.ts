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
export function splitOr(value: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === ',') {
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
