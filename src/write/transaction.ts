import crypto from 'node:crypto';
import type { BundleEntryResponse, DiagnosticReport, FhirResource, Observation, Patient } from 'fhir/r4';
import { ResultMappingError, fromDiagnosticReport } from '../../mappings/result-document';
import { rowAccess } from '../auth/access';
import { AccessDenied } from '../auth/errors';
import { badRequest, forbidden, OutcomeError, preconditionFailed, unprocessable } from '../fhir/outcomes';
import { identifierCriteria, ifMatchVersion } from '../fhir/preconditions';
import { resolvePatient } from '../ingest/patient';
import { ingestResult } from '../ingest/write';
import { readRow, rowsById } from '../search/query';
import type { ResultDefinitions } from '../ingest/reach';
import { atEntry, type PlannedEntry } from './bundle-entries';
import { clientErrorOf, isUniqueViolation, PATIENT_REFUSALS } from './database-errors';
import { IdentifierTaken } from './patient-rows';
import { conditionalUpdatePatient, createPatient, deletePatient, patientsWithIdentifier, updatePatient, type WriteScope } from './patients';

/** What one entry of a transaction did: its response, and the resource written (for return=representation). */
export interface EntryOutcome {
  readonly response: BundleEntryResponse;
  readonly resource?: FhirResource;
}


const ORDER: Record<string, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2 };

/**
 * Runs the writes of a transaction Bundle in `scope`'s one database transaction: DELETE, then POST
 * (Patients before the reports that name them), then PUT, as FHIR orders them. urn:uuid: references
 * between entries and conditional references (Patient?identifier=system|value) are resolved first
 * within the transaction. The first failing entry fails the whole Bundle; the caller rolls back.
 * GET entries are the caller's to answer once this has committed.
 */
export async function runTransaction(scope: WriteScope, defs: ResultDefinitions, entries: readonly PlannedEntry[]): Promise<Map<number, EntryOutcome>> {
  const outcomes = new Map<number, EntryOutcome>();
  const ids = assignIds(entries);
  const writes = entries.filter((e) => e.method !== 'GET');
  for (const entry of writes) {
    if (entry.method === 'PATCH') throw atEntry(badRequest('PATCH is not supported inside a Bundle; send it as PATCH [type]/[id]'), entry);
    if (entry.type === 'Observation' && entry.method === 'POST') continue; // written with its report
    if (entry.type !== 'Patient' && !(entry.type === 'DiagnosticReport' && entry.method === 'POST')) {
      throw atEntry(unprocessable([{ diagnostics: `${entry.method} of ${entry.type} is not supported: clients write Patients, and results as a DiagnosticReport with its Observations` }]), entry);
    }
  }
  const observations = reportResults(entries);
  // A report lists its results by time, then id: ascending ids keep them in the order the report gave.
  for (const results of observations.values()) {
    const sorted = results.map(() => crypto.randomUUID()).sort();
    results.forEach((result, k) => ids.set(result.fullUrl ?? `#${result.index}`, { type: 'Observation', id: sorted[k] }));
  }
  const sorted = [...writes].sort((a, b) => rank(a) - rank(b) || ORDER[a.method] - ORDER[b.method] || a.index - b.index);
  const touched = new Map<string, PlannedEntry>();
  for (const entry of sorted) {
    if (entry.type === 'Observation') continue;
    try {
      if (entry.type === 'Patient') {
        const outcome = await patientEntry(scope, entry, ids);
        // FHIR: a transaction that touches one resource twice fails (which write would win is undefined).
        const id = outcome.id;
        const earlier = touched.get(id);
        if (earlier) throw badRequest(`Patient/${id} is also written by Bundle.entry[${earlier.index}]; a transaction may write a resource once`);
        touched.set(id, entry);
        outcomes.set(entry.index, outcome.outcome);
      }
      else {
        const written = await reportEntry(scope, defs, entry, ids, observations.get(entry.index) ?? []);
        for (const [index, outcome] of written) outcomes.set(index, outcome);
      }
    } catch (err) {
      throw located(err, entry);
    }
  }
  return outcomes;
}

/** Patients first (DELETE, POST, PUT), so the reports after them can name them however they came. */
const rank = (entry: PlannedEntry) => (entry.type === 'Patient' ? 0 : 1);

/** fullUrl -> the id it will have: new UUIDs for POSTed resources, the URL's id for PUTs. */
function assignIds(entries: readonly PlannedEntry[]): Map<string, { type: string; id: string | null }> {
  const ids = new Map<string, { type: string; id: string | null }>();
  for (const entry of entries) {
    if (entry.fullUrl === null) continue;
    if (entry.method === 'POST') ids.set(entry.fullUrl, { type: entry.type, id: entry.type === 'Patient' && entry.ifNoneExist ? null : crypto.randomUUID() });
    else if (entry.method === 'PUT') ids.set(entry.fullUrl, { type: entry.type, id: entry.id });
  }
  return ids;
}

/** Each report's Observation entries, in its result order; every POSTed Observation must belong to exactly one report. */
function reportResults(entries: readonly PlannedEntry[]): Map<number, PlannedEntry[]> {
  const byFullUrl = new Map(entries.filter((e) => e.fullUrl !== null).map((e) => [e.fullUrl!, e]));
  const owner = new Map<number, number>();
  const results = new Map<number, PlannedEntry[]>();
  for (const report of entries.filter((e) => e.type === 'DiagnosticReport' && e.method === 'POST')) {
    const list: PlannedEntry[] = [];
    ((report.resource as unknown as DiagnosticReport).result ?? []).forEach((ref, k) => {
      const target = ref.reference ? byFullUrl.get(ref.reference) : undefined;
      if (!target || target.type !== 'Observation' || target.method !== 'POST') {
        throw atEntry(
          unprocessable([{ diagnostics: `result[${k}] ${JSON.stringify(ref.reference ?? null)} must reference an Observation POSTed in this Bundle (by its fullUrl)`, expression: [`DiagnosticReport.result[${k}]`] }]),
          report,
        );
      }
      if (owner.has(target.index) && owner.get(target.index) !== report.index) {
        throw atEntry(unprocessable([{ diagnostics: 'This Observation is the result of two DiagnosticReports' }]), target);
      }
      owner.set(target.index, report.index);
      list.push(target);
    });
    results.set(report.index, list);
  }
  for (const entry of entries) {
    if (entry.type === 'Observation' && entry.method === 'POST' && !owner.has(entry.index)) {
      throw atEntry(unprocessable([{ diagnostics: 'An Observation is stored as a result of a DiagnosticReport: list it in the result of a DiagnosticReport in this Bundle' }]), entry);
    }
  }
  return results;
}

async function patientEntry(scope: WriteScope, entry: PlannedEntry, ids: Map<string, { type: string; id: string | null }>): Promise<{ id: string; outcome: EntryOutcome }> {
  const ifMatch = entry.ifMatch === null ? undefined : ifMatchVersion({ 'if-match': entry.ifMatch });
  let resource: Patient;
  let status: 200 | 201;
  let unreadable = false;
  switch (entry.method) {
    case 'DELETE': {
      await deletePatient(scope, entry.id!);
      return { id: entry.id!, outcome: { response: { status: '204 No Content' } } };
    }
    case 'POST': {
      const ifNoneExist = entry.ifNoneExist === null ? undefined : identifierCriteria(entry.ifNoneExist, 'ifNoneExist');
      const given = entry.fullUrl ? ids.get(entry.fullUrl)?.id ?? undefined : undefined;
      const written = await createPatient(scope, resolveReferences(entry.resource, ids), { ifNoneExist, ...(given ? { id: given } : {}) });
      ({ resource, status } = written);
      unreadable = written.unreadable === true;
      break;
    }
    default: {
      const body = resolveReferences(entry.resource, ids);
      ({ resource, status } = entry.id
        ? await updatePatient(scope, entry.id, body, { ifMatch })
        : await conditionalUpdatePatient(scope, identifierCriteria(entry.query ?? '', 'A conditional update'), body, { ifMatch }));
    }
  }
  // A conditional entry's id is known only now; later entries may name it by its fullUrl.
  if (entry.fullUrl) ids.set(entry.fullUrl, { type: 'Patient', id: resource.id! });
  return { id: resource.id!, outcome: { response: written('Patient', resource.id!, resource.meta!, status), ...(unreadable ? {} : { resource }) } };
}

async function reportEntry(
  scope: WriteScope,
  defs: ResultDefinitions,
  entry: PlannedEntry,
  ids: Map<string, { type: string; id: string | null }>,
  results: readonly PlannedEntry[],
): Promise<Map<number, EntryOutcome>> {
  const reportReach = rowAccess(scope.access, 'DiagnosticReport', 'c');
  // A result names its patient and answers with the ids: re-identification for a researcher.
  if (!scope.access.identifiable) throw forbidden(`The ${scope.access.role} role cannot write results: a result identifies its patient`);
  const observationReach = results.length ? rowAccess(scope.access, 'Observation', 'c') : null;
  const resolved = new Map<string, string>();
  const report = (await resolveConditional(scope, resolveReferences(entry.resource, ids), resolved)) as unknown as DiagnosticReport;
  const observations: Observation[] = [];
  for (const result of results) {
    try {
      observations.push((await resolveConditional(scope, resolveReferences(result.resource, ids), resolved)) as unknown as Observation);
    } catch (err) {
      throw located(err, result);
    }
  }
  let doc;
  try {
    doc = fromDiagnosticReport(report, observations, scope.ctx);
  } catch (err) {
    if (!(err instanceof ResultMappingError)) throw err;
    const first = err.issues[0];
    const where = first.observation === undefined ? entry : results[first.observation];
    throw atEntry(unprocessable(err.issues.filter((i) => i.observation === first.observation)), where);
  }
  const subject = /^Patient\/([^/]+)$/.exec(report.subject?.reference ?? '');
  if (!subject) throw unprocessable([{ diagnostics: 'DiagnosticReport.subject must reference the Patient (Patient/[id], a Patient entry of this Bundle, or Patient?identifier=system|value)', expression: ['DiagnosticReport.subject'] }]);
  const owner = await resolvePatient(scope.tx, { id: subject[1] }, reportReach).catch((err: unknown) => {
    throw err instanceof OutcomeError ? unprocessable([{ diagnostics: `DiagnosticReport.subject ${subject[0]} is not a patient this token can write results for`, expression: ['DiagnosticReport.subject'] }]) : err;
  });
  const reportId = ids.get(entry.fullUrl ?? '')?.id ?? crypto.randomUUID();
  const observationIds = results.map((r) => ids.get(r.fullUrl ?? `#${r.index}`)!.id!);
  const ingested = await ingestResult(
    scope.tx,
    { ...doc, id: reportId, biomarkers: doc.biomarkers?.map((b, k) => ({ ...b, id: observationIds[k] })) },
    owner,
  ).catch((err: unknown) => {
    throw err instanceof OutcomeError ? inBundleTerms(err, entry, results) : err;
  });
  // Read back within the reach that allowed creating them: outside it (a granular scope, another
  // patient) the whole transaction is refused.
  const row = await readRow(scope.tx, defs.report, reportReach, ingested.assessmentId);
  if (!row) throw forbidden('The token does not permit creating this DiagnosticReport (its patient, category or code is outside the granted scopes)');
  const outcomes = new Map<number, EntryOutcome>();
  const status = ingested.created ? 201 : 200;
  const reportResource = defs.report.toResource(row.row, scope.ctx);
  outcomes.set(entry.index, { response: written('DiagnosticReport', ingested.assessmentId, reportResource.meta!, status), resource: reportResource });
  if (observationReach) {
    const rows = await rowsById(scope.tx, defs.observation, observationReach, ingested.observationIds);
    if (rows.length !== new Set(ingested.observationIds).size) throw forbidden('The token does not permit creating these Observations');
    const byId = new Map(rows.map((r) => [r.id, defs.observation.toResource(r, scope.ctx)]));
    results.forEach((result, k) => {
      const observation = byId.get(ingested.observationIds[k]);
      if (observation) outcomes.set(result.index, { response: written('Observation', observation.id!, observation.meta!, status), resource: observation });
    });
  }
  return outcomes;
}

/** Where a result-document field comes from in the Bundle's resources. */
const OBSERVATION_FIELDS: Record<string, string> = {
  id: 'id',
  name: 'code',
  category: 'category',
  value: 'valueQuantity.value',
  unit: 'valueQuantity.unit',
  normal_range_min: 'referenceRange.low',
  normal_range_max: 'referenceRange.high',
  status: 'interpretation',
  confidence: 'extension',
  percentile: 'extension',
};
const REPORT_FIELDS: Record<string, string> = {
  session_id: 'identifier',
  pipeline: 'code',
  status: 'status',
  created_at: 'effectiveDateTime',
  completed_at: 'issued',
  risk_level: 'conclusionCode',
  result: 'conclusionCode',
  explanation: 'conclusion',
};

/**
 * Ingestion speaks of its document's fields (biomarkers[2].percentile); a Bundle's sender wrote FHIR. The
 * error is moved to the entry the field came from and its elements named as FHIR paths.
 */
function inBundleTerms(err: OutcomeError, report: PlannedEntry, results: readonly PlannedEntry[]): OutcomeError {
  const translate = (expression: string): { entry: PlannedEntry; path: string } => {
    const biomarker = /^biomarkers\[(\d+)\](?:\.(\w+))?/.exec(expression);
    if (biomarker && results[Number(biomarker[1])]) {
      return { entry: results[Number(biomarker[1])], path: `Observation.${OBSERVATION_FIELDS[biomarker[2] ?? ''] ?? 'valueQuantity'}` };
    }
    const field = /^(\w+)/.exec(expression)?.[1] ?? '';
    return { entry: report, path: `DiagnosticReport${REPORT_FIELDS[field] ? `.${REPORT_FIELDS[field]}` : field ? '.extension' : ''}` };
  };
  const words = (text: string) => text.replace(/biomarkers\[(\d+)\]\.(\w+)/g, (_, _k: string, f: string) => `Observation.${OBSERVATION_FIELDS[f] ?? f} (${f})`);
  const first = translate(err.expression?.[0] ?? '');
  const more = err.more
    .map((issue) => ({ issue, at: translate(issue.expression?.[0] ?? '') }))
    .filter(({ at }) => at.entry === first.entry)
    .map(({ issue, at }) => ({ diagnostics: words(issue.diagnostics ?? ''), expression: [at.path] }));
  const moved = new OutcomeError(err.status, err.code, words(err.diagnostics), [first.path], err.headers);
  return atEntry(err.status === 422 ? unprocessable([{ diagnostics: moved.diagnostics, expression: [first.path] }, ...more]) : moved, first.entry);
}

/** Every urn:uuid: reference to an entry of this Bundle, rewritten to Type/id. */
function resolveReferences(resource: Record<string, unknown> | null, ids: Map<string, { type: string; id: string | null }>): Record<string, unknown> {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (key === 'reference' && typeof v === 'string' && v.startsWith('urn:uuid:')) {
        const target = ids.get(v);
        if (!target || target.id === null) throw unprocessable([{ diagnostics: `Reference ${v} names no resource created or updated by this Bundle` }]);
        out[key] = `${target.type}/${target.id}`;
      } else out[key] = walk(v);
    }
    return out;
  };
  return walk(resource) as Record<string, unknown>;
}

/** Conditional references (Patient?identifier=system|value) rewritten to the one Patient they match. */
async function resolveConditional(scope: WriteScope, resource: Record<string, unknown>, resolved: Map<string, string>): Promise<Record<string, unknown>> {
  const subject = resource.subject as { reference?: string } | undefined;
  const reference = subject?.reference;
  if (!reference || !reference.startsWith('Patient?')) {
    if (reference && /^[A-Za-z]+\?/.test(reference)) throw unprocessable([{ diagnostics: `Conditional reference ${reference} is not supported; only Patient?identifier=system|value is` }]);
    return resource;
  }
  // A report and its observations usually name the same patient: one lookup per reference per transaction.
  let id = resolved.get(reference);
  if (id === undefined) {
    const { system, value } = identifierCriteria(reference, 'A conditional reference');
    const reach = rowAccess(scope.access, 'Patient', 'r');
    const matches = await patientsWithIdentifier(scope.tx, scope.def, reach, { system, value });
    if (matches.length !== 1) {
      throw preconditionFailed(`Conditional reference ${reference} matches ${matches.length === 0 ? 'no' : 'more than one'} Patient`);
    }
    id = matches[0].id;
    resolved.set(reference, id);
  }
  return { ...resource, subject: { ...subject, reference: `Patient/${id}` } };
}

function written(type: string, id: string, meta: { versionId?: string; lastUpdated?: string }, status: 200 | 201): BundleEntryResponse {
  return {
    status: status === 201 ? '201 Created' : '200 OK',
    location: `${type}/${id}/_history/${meta.versionId}`,
    etag: `W/"${meta.versionId}"`,
    ...(meta.lastUpdated ? { lastModified: meta.lastUpdated } : {}),
  };
}

/** An entry's failure as the Bundle's: the status it earned, pointing at the entry. */
function located(err: unknown, entry: PlannedEntry): unknown {
  if (err instanceof IdentifierTaken) {
    err.entry ??= entry;
    return err;
  }
  if (err instanceof OutcomeError) return err.diagnostics.startsWith('Bundle.entry[') ? err : atEntry(err, entry);
  if (err instanceof AccessDenied) return atEntry(forbidden(err.message, err.scope), entry);
  // A unique key a concurrent writer took stays raw: a conditional transaction is re-run on it.
  if (isUniqueViolation(err)) return err;
  const refused = clientErrorOf(err, PATIENT_REFUSALS);
  return refused instanceof OutcomeError ? atEntry(refused, entry) : err;
}
