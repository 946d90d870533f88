import type { Bundle, BundleEntry, FhirResource } from 'fhir/r4';
import type { PatientRow } from '../../../mappings/patient';
import { factsOf, mergeFacts } from '../../audit/facts';
import { entryScope } from '../../audit/middleware';
import type { AuditFacts, AuditScope } from '../../audit/record';
import type { AuditedWrite } from '../../audit/trail';
import type { ResourceDefinition } from '../../search/definition';
import type { ViewRow } from '../../search/query';
import { planEntries, type PlannedEntry } from '../../write/bundle-entries';
import { runTransaction, type EntryOutcome } from '../../write/transaction';
import { toOutcomeError } from '../error-handler';
import type { FhirDeps, FhirRequest, FhirResponse, Handler, Route } from '../interaction';
import { notFound, OutcomeError, withIssues } from '../outcomes';
import { returnPreference } from '../preconditions';
import { inWriteTransaction } from './write';

export interface BundleDefinitions {
  readonly patient: ResourceDefinition<PatientRow>;
  readonly report: ResourceDefinition<ViewRow>;
  readonly observation: ResourceDefinition<ViewRow>;
}

/**
 * POST [base] with a transaction or batch Bundle. A transaction's writes share one database
 * transaction (all or nothing; the failing entry named in the OperationOutcome); its GETs are answered
 * after the commit. A batch runs each entry on its own, through the same interaction table as a
 * direct request, and reports each entry's outcome.
 */
export function bundleHandler(routes: () => readonly Route[], defs: BundleDefinitions): Handler {
  return async (req, deps) => {
    const base = `${deps.config.publicBaseUrl}/fhir`;
    const plan = planEntries(req.body, deps.validator, base);
    const representation = returnPreference(req.headers) === 'representation';
    if (plan.type === 'batch') {
      req.audit.subtype = 'batch';
      const entries: BundleEntry[] = [];
      for (const entry of plan.entries) entries.push(await dispatched(routes(), entry, req, deps, representation));
      return { status: 200, body: response('batch-response', entries) };
    }
    const conditional = plan.entries.some((e) => e.ifNoneExist !== null || (e.method === 'PUT' && e.query !== null));
    const outcomes = await inWriteTransaction(
      req,
      deps,
      defs.patient,
      conditional,
      (scope) => runTransaction(scope, defs, plan.entries),
      (done) => transactionAudit(req.audit, plan.entries, done),
    );
    const entries: BundleEntry[] = [];
    for (const entry of plan.entries) {
      entries.push(entry.method === 'GET' ? await dispatched(routes(), entry, req, deps, true) : transactionEntry(outcomes.get(entry.index), representation));
    }
    return { status: 200, body: response('transaction-response', entries) };
  };
}

const SUBTYPES: Readonly<Record<string, string>> = { GET: 'read', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/**
 * A transaction's events, stored with its writes: one per written entry (what it wrote, the version,
 * the patient) and the Bundle's own, naming every patient the transaction touched.
 */
function transactionAudit(bundle: AuditScope, entries: readonly PlannedEntry[], outcomes: Map<number, EntryOutcome>): AuditedWrite[] {
  const writes: AuditedWrite[] = [];
  for (const entry of entries) {
    const outcome = outcomes.get(entry.index);
    if (entry.method === 'GET' || !outcome) continue;
    const location = /^([A-Za-z]+)\/([^/]+)(?:\/_history\/([^/]+))?/.exec(outcome.response.location ?? '');
    const type = location?.[1] ?? entry.type;
    const id = location?.[2] ?? entry.id;
    const facts: AuditFacts = outcome.resource
      ? factsOf([outcome.resource], { entities: true })
      : { entities: id ? [`${type}/${id}`] : [], patients: type === 'Patient' && id ? [id] : [] };
    const scope = entryScope(bundle, { eventType: 'rest', subtype: SUBTYPES[entry.method], resourceType: type, id, version: location?.[3] ?? null, query: null });
    writes.push({ scope, status: Number.parseInt(outcome.response.status, 10) || 200, facts });
  }
  writes.push({ scope: bundle, status: 200, facts: mergeFacts(writes.map((w) => w.facts)) });
  return writes;
}

function response(type: 'batch-response' | 'transaction-response', entry: BundleEntry[]): Bundle {
  return { resourceType: 'Bundle', type, ...(entry.length ? { entry } : {}) };
}

function transactionEntry(outcome: EntryOutcome | undefined, representation: boolean): BundleEntry {
  if (!outcome) return { response: { status: '200 OK' } };
  return { ...(representation && outcome.resource ? { resource: outcome.resource } : {}), response: outcome.response };
}

/** One entry through the interaction table, as if it had been its own request by the same caller. */
async function dispatched(routes: readonly Route[], entry: PlannedEntry, req: FhirRequest, deps: FhirDeps, representation: boolean): Promise<BundleEntry> {
  const path = `/${entry.type}${entry.id !== null ? `/${encodeURIComponent(entry.id)}` : ''}`;
  const headers = {
    ...(req.headers.prefer ? { prefer: req.headers.prefer } : {}),
    ...(entry.ifMatch !== null ? { 'if-match': entry.ifMatch } : {}),
    ...(entry.ifNoneExist !== null ? { 'if-none-exist': entry.ifNoneExist } : {}),
  };
  const match = entry.problems.length ? null : findRoute(routes, entry.method, path);
  // Each entry is an interaction of its own: its own AuditEvent, with the Bundle's who and where.
  const audit = entryScope(req.audit, {
    eventType: 'rest',
    subtype: match?.route.interaction ?? SUBTYPES[entry.method],
    resourceType: entry.type,
    id: match?.params.id ?? entry.id,
    version: match?.params.vid ?? null,
    query: match && (match.route.interaction === 'search-type' || match.route.interaction.startsWith('history')) ? `/fhir${path}${entry.query ? `?${entry.query}` : ''}` : null,
  });
  try {
    if (entry.problems.length) throw withIssues(400, 'invalid', entry.problems, 'The entry is invalid');
    if (!match) {
      const results = entry.method === 'POST' && (entry.type === 'DiagnosticReport' || entry.type === 'Observation');
      throw results
        ? new OutcomeError(422, 'not-supported', `${entry.type} is written as part of a result: POST a transaction Bundle with the DiagnosticReport and its Observations`)
        : notFound(`No interaction ${entry.method} ${path} on this server`);
    }
    const query: Record<string, string[]> = Object.create(null);
    for (const [name, value] of new URLSearchParams(entry.query ?? '')) (query[name] ??= []).push(value);
    const out: FhirResponse = await match.route.handler({ params: match.params, query, headers, access: req.access, body: entry.resource ?? undefined, audit }, deps);
    if (out.audit) audit.facts = out.audit;
    deps.audit.record(audit, out.status);
    const resource = out.body as FhirResource | undefined;
    const isResource = resource !== undefined && typeof resource === 'object' && 'resourceType' in resource;
    return {
      ...(isResource && (representation || entry.method === 'GET') ? { resource } : {}),
      response: {
        status: String(out.status),
        ...(out.headers?.Location || out.headers?.['Content-Location'] ? { location: relative(out.headers.Location ?? out.headers['Content-Location']) } : {}),
        ...(out.headers?.ETag ? { etag: out.headers.ETag } : {}),
        ...(out.headers?.['Last-Modified'] ? { lastModified: new Date(out.headers['Last-Modified']).toISOString() } : {}),
        ...(isResource && resource.resourceType === 'OperationOutcome' ? { outcome: resource } : {}),
      },
    };
  } catch (err) {
    const outcome = toOutcomeError(err);
    deps.audit.record(audit, outcome.status, outcome.diagnostics);
    return { response: { status: String(outcome.status), outcome: outcome.toOperationOutcome() } };
  }
}

const relative = (url: string) => url.replace(/^.*\/fhir\//, '');

function findRoute(routes: readonly Route[], method: string, path: string): { route: Route; params: Record<string, string> } | null {
  for (const route of routes) {
    if (route.method !== method || route.public || route.interaction === 'transaction') continue;
    const names: string[] = [];
    const pattern = new RegExp(`^${route.path.replace(/:(\w+)/g, (_, name: string) => (names.push(name), '([^/]+)'))}$`);
    const m = pattern.exec(path);
    if (m) return { route, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])])) };
  }
  return null;
}
