import type { Bundle, BundleEntry } from 'fhir/r4';
import { badRequest, OutcomeError, withIssues } from '../fhir/outcomes';
import { FhirValidator } from '../validation/fhir-validator';

export type EntryMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One Bundle entry, checked: what it asks for, about which type and id, and its resource. */
export interface PlannedEntry {
  readonly index: number;
  readonly method: EntryMethod;
  /** request.url relative to the base, as sent (for messages and GET dispatch). */
  readonly url: string;
  readonly type: string;
  readonly id: string | null;
  /** The query of Type?criteria (conditional update, search); null without one. */
  readonly query: string | null;
  readonly fullUrl: string | null;
  readonly resource: Record<string, unknown> | null;
  readonly ifNoneExist: string | null;
  readonly ifMatch: string | null;
  /** What is wrong with the entry itself; a batch answers such an entry with a 400 and goes on. */
  readonly problems: readonly { diagnostics: string; expression: string[] }[];
}

export const MAX_ENTRIES = 1000;
const URN_UUID = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RELATIVE = /^([A-Z][A-Za-z]+)(?:\/([^/?]+))?(?:\?(.*))?$/;

/** An error of one entry: its status, with the entry named in the text and in every expression. */
export function atEntry(err: OutcomeError, entry: { index: number; method: string; url: string }): OutcomeError {
  const prefix = `Bundle.entry[${entry.index}]`;
  const relocate = (expression: string) => expression.replace(/^(?:[A-Z][A-Za-z]+)(?=\.|\[|$)/, `${prefix}.resource`);
  const expression = err.expression?.length ? err.expression.map(relocate) : [prefix];
  return new OutcomeError(
    err.status,
    err.code,
    `${prefix} (${entry.method} ${entry.url}): ${err.diagnostics}`,
    expression.map((e) => (e.startsWith('Bundle.') ? e : `${prefix}.${e}`)),
    err.headers,
    err.more.map((issue) => ({ ...issue, expression: (issue.expression ?? []).map(relocate) })),
  );
}

/**
 * The Bundle's envelope and each entry, checked before anything is read or written: structure
 * (FHIR R4 JSON Schema) of the Bundle and of every resource we accept, request method and URL, and
 * fullUrl uniqueness. A transaction with any problem fails as a whole, every problem reported at once,
 * each pointing at its entry; a batch keeps each entry's problems with the entry.
 */
export function planEntries(body: unknown, validator: FhirValidator, base: string): { type: 'transaction' | 'batch'; entries: PlannedEntry[] } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The request body must be a Bundle');
  const bundle = body as Bundle;
  if (bundle.resourceType !== 'Bundle') throw badRequest(`POST [base] takes a Bundle, not ${JSON.stringify(bundle.resourceType ?? 'an object without resourceType')}`, ['Bundle.resourceType']);
  if (bundle.type !== 'transaction' && bundle.type !== 'batch') {
    throw badRequest(`POST [base] takes a Bundle of type transaction or batch, not ${JSON.stringify(bundle.type)}`, ['Bundle.type']);
  }
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  if (entries.length > MAX_ENTRIES) throw badRequest(`A Bundle may hold at most ${MAX_ENTRIES} entries`, ['Bundle.entry']);
  const problems = new Map<number, { diagnostics: string; expression: string[] }[]>();
  const add = (index: number, issue: { diagnostics: string; expression: string[] }) => problems.set(index, [...(problems.get(index) ?? []), issue]);
  const envelope: { diagnostics: string; expression: string[] }[] = [];
  for (const issue of validator.validate('Bundle', bundle)) {
    const at = /^Bundle\.entry\[(\d+)\]/.exec(issue.expression[0]);
    if (at) add(Number(at[1]), issue);
    else envelope.push(issue);
  }
  if (envelope.length) throw withIssues(400, 'structure', envelope, 'The Bundle is not valid FHIR');

  const fullUrls = new Set<string>();
  const planned = entries.map((entry, index) => {
    const at = `Bundle.entry[${index}]`;
    const problem = (diagnostics: string, where = '') => add(index, { diagnostics: `${at}: ${diagnostics}`, expression: [`${at}${where}`] });
    const plan = problems.has(index) ? null : planEntry(entry, index, base, problem);
    if (plan?.fullUrl) {
      if (fullUrls.has(plan.fullUrl)) problem(`fullUrl ${plan.fullUrl} appears twice`, '.fullUrl');
      fullUrls.add(plan.fullUrl);
    }
    if (plan?.resource && FhirValidator.isAccepted(plan.type) && plan.type !== 'Bundle') {
      for (const issue of validator.validate(plan.type, plan.resource, `${at}.resource`)) add(index, issue);
    }
    return { ...(plan ?? unplannable(entry, index)), problems: problems.get(index) ?? [] };
  });
  const all = planned.flatMap((p) => p.problems);
  if (bundle.type === 'transaction' && all.length) {
    throw withIssues(400, 'invalid', all, 'The Bundle has invalid entries');
  }
  return { type: bundle.type, entries: planned };
}

/** An entry too broken to say what it asks for: kept only to answer it (batch). */
function unplannable(entry: BundleEntry, index: number): Omit<PlannedEntry, 'problems'> {
  const method = (entry?.request?.method ?? 'GET') as EntryMethod;
  return { index, method, url: String(entry?.request?.url ?? ''), type: '', id: null, query: null, fullUrl: null, resource: null, ifNoneExist: null, ifMatch: null };
}

function planEntry(entry: BundleEntry, index: number, base: string, problem: (text: string, where?: string) => void): Omit<PlannedEntry, 'problems'> | null {
  const request = entry.request;
  if (!request) {
    problem('every entry of a transaction or batch needs request (method and url)', '.request');
    return null;
  }
  const method = request.method as EntryMethod;
  if (method === ('HEAD' as EntryMethod)) {
    problem('HEAD is not supported in a Bundle', '.request.method');
    return null;
  }
  const relative = request.url.startsWith(`${base}/`) ? request.url.slice(base.length + 1) : request.url.replace(/^\//, '');
  const m = RELATIVE.exec(relative);
  if (!m) {
    problem(`request.url ${JSON.stringify(request.url)} is not [type], [type]/[id] or [type]?[criteria] on this server`, '.request.url');
    return null;
  }
  const [, type, rawId = null, query = null] = m;
  let id: string | null = rawId;
  try {
    if (rawId !== null) id = decodeURIComponent(rawId);
  } catch {
    problem(`request.url ${JSON.stringify(request.url)} is not validly percent-encoded`, '.request.url');
    return null;
  }
  const resource = (entry.resource ?? null) as Record<string, unknown> | null;
  const needsResource = method === 'POST' || method === 'PUT';
  if (needsResource && !resource) problem(`${method} needs a resource`, '.resource');
  if (!needsResource && resource && method !== 'PATCH') problem(`${method} takes no resource`, '.resource');
  if (resource && needsResource && resource.resourceType !== type) {
    problem(`the resource is a ${String(resource.resourceType)}, but request.url names ${type}`, '.resource.resourceType');
  }
  if (method === 'POST' && (id !== null || query !== null)) problem('POST takes request.url [type] (conditions go in ifNoneExist)', '.request.url');
  if ((method === 'DELETE' || method === 'PATCH') && id === null) problem(`${method} needs request.url [type]/[id]`, '.request.url');
  if (method === 'PUT' && id === null && query === null) problem('PUT needs request.url [type]/[id] or [type]?[criteria]', '.request.url');
  const fullUrl = entry.fullUrl ?? null;
  if (fullUrl !== null && fullUrl.startsWith('urn:') && !URN_UUID.test(fullUrl)) problem(`fullUrl ${fullUrl} is not a urn:uuid: with a UUID`, '.fullUrl');
  return {
    index,
    method,
    url: relative,
    type,
    id,
    query,
    fullUrl,
    resource,
    ifNoneExist: request.ifNoneExist ?? null,
    ifMatch: request.ifMatch ?? null,
  };
}
