import type { Bundle, BundleEntry } from 'fhir/r4';
import { badRequest, OutcomeError } from '../fhir/outcomes';
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
 * fullUrl uniqueness. Every problem is reported at once, each pointing at its entry.
 */
export function planEntries(body: unknown, validator: FhirValidator, base: string): { type: 'transaction' | 'batch'; entries: PlannedEntry[] } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The request body must be a Bundle');
  const bundle = body as Bundle;
  if (bundle.resourceType !== 'Bundle') throw badRequest(`POST [base] takes a Bundle, not ${JSON.stringify(bundle.resourceType ?? 'an object without resourceType')}`, ['Bundle.resourceType']);
  if (bundle.type !== 'transaction' && bundle.type !== 'batch') {
    throw badRequest(`POST [base] takes a Bundle of type transaction or batch, not ${JSON.stringify(bundle.type)}`, ['Bundle.type']);
  }
  const structural = validator.validate('Bundle', bundle);
  if (structural.length) throw new OutcomeError(400, 'structure', structural[0].diagnostics, structural[0].expression, {}, structural.slice(1).map(toIssue));
  const entries = bundle.entry ?? [];
  if (entries.length > MAX_ENTRIES) throw badRequest(`A Bundle may hold at most ${MAX_ENTRIES} entries`, ['Bundle.entry']);

  const problems: { diagnostics: string; expression: string[] }[] = [];
  const planned: PlannedEntry[] = [];
  const fullUrls = new Set<string>();
  entries.forEach((entry, index) => {
    const at = `Bundle.entry[${index}]`;
    const plan = planEntry(entry, index, base, (diagnostics, where = '') => problems.push({ diagnostics: `${at}: ${diagnostics}`, expression: [`${at}${where}`] }));
    if (!plan) return;
    if (plan.fullUrl !== null) {
      if (fullUrls.has(plan.fullUrl)) problems.push({ diagnostics: `${at}: fullUrl ${plan.fullUrl} appears twice`, expression: [`${at}.fullUrl`] });
      fullUrls.add(plan.fullUrl);
    }
    if (plan.resource && FhirValidator.isAccepted(plan.type) && plan.type !== 'Bundle') {
      for (const issue of validator.validate(plan.type, plan.resource, `${at}.resource`)) problems.push(issue);
    }
    planned.push(plan);
  });
  if (problems.length) throw new OutcomeError(400, 'invalid', problems[0].diagnostics, problems[0].expression, {}, problems.slice(1).map(toIssue));
  return { type: bundle.type, entries: planned };
}

function toIssue(issue: { diagnostics: string; expression: string[] }) {
  return { severity: 'error' as const, code: 'invalid' as const, diagnostics: issue.diagnostics, expression: issue.expression };
}

function planEntry(entry: BundleEntry, index: number, base: string, problem: (text: string, where?: string) => void): PlannedEntry | null {
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
  const [, type, id = null, query = null] = m;
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
