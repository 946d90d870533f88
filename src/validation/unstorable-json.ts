const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** How deep JSON may nest: far beyond any FHIR resource or result document, far below a stack overflow. */
export const MAX_DEPTH = 64;

/**
 * What cannot be stored exactly although JSON can say it: a NUL character or a lone UTF-16 surrogate in
 * any string (or object key), a number JSON.parse could not keep (1e400 becomes Infinity; integers
 * beyond 2^53 lose digits), and nesting deeper than MAX_DEPTH (which would also overflow a recursive
 * validator). Walked iteratively, so depth cannot overflow the stack here. `root` names the top
 * ('Patient', or '' for a document whose fields are named bare).
 */
export function unstorableJson(body: unknown, root = ''): { diagnostics: string; expression: string[] }[] {
  const issues: { diagnostics: string; expression: string[] }[] = [];
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: body, path: root, depth: 0 }];
  while (stack.length && issues.length < 20) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const at = path || '$';
      if (value.includes('\u0000')) issues.push({ diagnostics: `${at} contains a NUL character, which cannot be stored`, expression: [at] });
      else if (LONE_SURROGATE.test(value)) issues.push({ diagnostics: `${at} contains a lone UTF-16 surrogate (not a Unicode character)`, expression: [at] });
      continue;
    }
    if (typeof value === 'number') {
      const at = path || '$';
      if (!Number.isFinite(value)) issues.push({ diagnostics: `${at} is a number too large to represent`, expression: [at] });
      else if (Number.isInteger(value) && !Number.isSafeInteger(value)) issues.push({ diagnostics: `${at} is an integer too large to keep exactly`, expression: [at] });
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_DEPTH) {
      issues.push({ diagnostics: `${path || '$'} nests deeper than ${MAX_DEPTH} levels`, expression: [path || '$'] });
      continue;
    }
    if (Array.isArray(value)) {
      value.forEach((v, i) => stack.push({ value: v, path: `${path}[${i}]`, depth: depth + 1 }));
      continue;
    }
    for (const [key, v] of Object.entries(value)) {
      const child = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;
      if (key.includes('\u0000') || LONE_SURROGATE.test(key)) issues.push({ diagnostics: `${child} has a NUL character or lone surrogate in its name, which cannot be stored`, expression: [child] });
      stack.push({ value: v, path: child, depth: depth + 1 });
    }
  }
  return issues;
}
