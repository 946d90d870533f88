/**
 * The SMART scope grammar, v1 and v2, in one place:
 *   (patient|user|system)/(Type|*).(read|write|*)                      v1
 *   (patient|user|system)/(Type|*).[c][r][u][d][s][?param=value&...]   v2, letters in this order
 * A v1 scope reads as its v2 equivalent (.read = rs, .write = cud, .* = cruds), so the rest of the
 * gateway sees one shape. Anything that does not parse is not a resource scope at all: callers drop it,
 * so a malformed scope can never widen access.
 */

export const SCOPE_CONTEXTS = ['patient', 'user', 'system'] as const;
export type ScopeContext = (typeof SCOPE_CONTEXTS)[number];

export const INTERACTIONS = ['c', 'r', 'u', 'd', 's'] as const;
export type Interaction = (typeof INTERACTIONS)[number];

/** What each interaction letter means, for messages. */
export const INTERACTION_NAMES: Record<Interaction, string> = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' };

/** A granular restriction (`?category=system|code`): rows must match it as a search parameter would. */
export interface ScopeFilter {
  readonly name: string;
  readonly value: string;
}

export interface ResourceScope {
  readonly context: ScopeContext;
  /** A resource type or '*'. */
  readonly resourceType: string;
  /** The permitted interactions, in c r u d s order. */
  readonly interactions: readonly Interaction[];
  readonly filters: readonly ScopeFilter[];
  /** How it was written; a granted scope keeps v1 form where v1 can still say it. */
  readonly version: 'v1' | 'v2';
}

/**
 * Types a wildcard (`*`) scope does not reach: only a scope naming them does. The audit log is not
 * clinical data, and a client or user granted every type of clinical data is not thereby an auditor.
 */
export const NAMED_SCOPE_ONLY: ReadonlySet<string> = new Set(['AuditEvent']);

/** Does a scope for `scopeType` (a type or '*') reach resources of `type`? */
export function scopeReaches(scopeType: string, type: string): boolean {
  return scopeType === type || (scopeType === '*' && !NAMED_SCOPE_ONLY.has(type));
}

const V1: Record<string, readonly Interaction[]> = { read: ['r', 's'], write: ['c', 'u', 'd'], '*': INTERACTIONS };
const SHAPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]{1,63})\.([a-z*]+)(?:\?(.+))?$/;
const FILTER_NAME = /^[a-z_][a-z0-9_:.-]{0,63}$/i;

/** Parses one scope; null when it is not a well-formed resource scope for one of `resourceTypes`. */
export function parseScope(text: string, resourceTypes: ReadonlySet<string>): ResourceScope | null {
  const m = SHAPE.exec(text);
  if (!m) return null;
  const [, context, resourceType, permission, query] = m;
  if (resourceType !== '*' && !resourceTypes.has(resourceType)) return null;

  let interactions: readonly Interaction[];
  let version: 'v1' | 'v2';
  if (Object.hasOwn(V1, permission)) {
    if (query !== undefined) return null; // granular filters exist only in v2
    interactions = V1[permission];
    version = 'v1';
  } else {
    const letters = [...permission];
    // v2 letters must appear at most once and in c r u d s order: "rs" yes, "sr" or "rrs" no.
    const order = letters.map((l) => INTERACTIONS.indexOf(l as Interaction));
    if (order.some((i, k) => i < 0 || (k > 0 && i <= order[k - 1]))) return null;
    interactions = letters as Interaction[];
    version = 'v2';
  }

  const filters: ScopeFilter[] = [];
  if (query !== undefined) {
    for (const pair of query.split('&')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) return null;
      const name = pair.slice(0, eq);
      let value: string;
      try {
        value = decodeURIComponent(pair.slice(eq + 1));
      } catch {
        return null;
      }
      if (!FILTER_NAME.test(name) || value === '') return null;
      filters.push({ name, value });
    }
  }
  return { context: context as ScopeContext, resourceType, interactions, filters, version };
}

/** Writes a scope back as text: v1 when it was v1 and v1 can still say it, v2 otherwise. */
export function formatScope(scope: ResourceScope): string {
  const letters = scope.interactions.join('');
  const prefix = `${scope.context}/${scope.resourceType}.`;
  if (scope.version === 'v1' && scope.filters.length === 0) {
    const v1 = Object.entries(V1).find(([, l]) => l.join('') === letters);
    if (v1) return prefix + v1[0];
  }
  // Escape only what the grammar itself uses, so system|code stays readable and re-parses to the same value.
  const query = scope.filters.map((f) => `${f.name}=${f.value.replace(/[%&\s]/g, encodeURIComponent)}`).join('&');
  return prefix + letters + (query ? `?${query}` : '');
}

export interface ParsedScopes {
  resource: ResourceScope[];
  /** Well-known non-resource scopes (openid, fhirUser, launch/patient ...), kept as written. */
  other: string[];
  /** Everything else: ignored. */
  invalid: string[];
}

const OTHER_SCOPES = new Set(['openid', 'fhirUser', 'profile', 'launch', 'launch/patient', 'launch/encounter', 'offline_access', 'online_access']);

export function parseScopes(text: string | undefined, resourceTypes: ReadonlySet<string>): ParsedScopes {
  const result: ParsedScopes = { resource: [], other: [], invalid: [] };
  for (const word of (text ?? '').split(/\s+/).filter(Boolean)) {
    const scope = parseScope(word, resourceTypes);
    if (scope) result.resource.push(scope);
    else if (OTHER_SCOPES.has(word)) result.other.push(word);
    else result.invalid.push(word);
  }
  return result;
}

/**
 * The part of `requested` that `allowed` covers: same context, the narrower type, the common
 * interactions, and the filters of both (a grant can only add restrictions). Returns null when nothing
 * is left.
 */
export function intersectScope(requested: ResourceScope, allowed: ResourceScope): ResourceScope | null {
  if (requested.context !== allowed.context) return null;
  let resourceType: string;
  if (allowed.resourceType === '*') {
    // A client allowed every type may not ask its way into the audit log.
    if (NAMED_SCOPE_ONLY.has(requested.resourceType)) return null;
    resourceType = requested.resourceType;
  } else if (requested.resourceType === '*' || requested.resourceType === allowed.resourceType) resourceType = allowed.resourceType;
  else return null;
  const interactions = requested.interactions.filter((i) => allowed.interactions.includes(i));
  if (interactions.length === 0) return null;
  const filters = [...requested.filters];
  for (const f of allowed.filters) if (!filters.some((g) => g.name === f.name && g.value === f.value)) filters.push(f);
  return { context: requested.context, resourceType, interactions, filters, version: requested.version };
}

/**
 * What a token request gets: every requested scope narrowed by each allowed scope that covers part of
 * it, limited to `contexts` (backend clients: system only). Duplicates are dropped, and so is a scope
 * another granted scope already covers whole.
 */
export function grantScopes(
  requested: readonly ResourceScope[],
  allowed: readonly ResourceScope[],
  contexts: readonly ScopeContext[],
): ResourceScope[] {
  const granted: ResourceScope[] = [];
  for (const r of requested) {
    if (!contexts.includes(r.context)) continue;
    for (const a of allowed) {
      const g = intersectScope(r, a);
      if (g && !granted.some((x) => scopeKey(x) === scopeKey(g))) granted.push(g);
    }
  }
  return granted.filter((g) => !granted.some((other) => other !== g && covers(other, g)));
}

/** True when `outer` permits everything `inner` does (and more, or the same with fewer filters). */
export function covers(outer: ResourceScope, inner: ResourceScope): boolean {
  return (
    outer.context === inner.context &&
    (inner.resourceType === '*' ? outer.resourceType === '*' : scopeReaches(outer.resourceType, inner.resourceType)) &&
    inner.interactions.every((i) => outer.interactions.includes(i)) &&
    outer.filters.every((f) => inner.filters.some((g) => g.name === f.name && g.value === f.value)) &&
    scopeKey(outer) !== scopeKey(inner)
  );
}

/** The meaning of a scope, whatever version it was written in. */
function scopeKey(scope: ResourceScope): string {
  const filters = [...new Map(scope.filters.map((f) => [`${f.name}=${f.value}`, f])).values()].sort((a, b) =>
    a.name === b.name ? a.value.localeCompare(b.value) : a.name.localeCompare(b.name),
  );
  return formatScope({ ...scope, filters, version: 'v2' });
}
