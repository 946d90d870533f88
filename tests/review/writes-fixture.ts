import crypto from 'node:crypto';
import type { Express } from 'express';
import type { Bundle, BundleEntry, DiagnosticReport, Observation, OperationOutcome, Patient } from 'fhir/r4';
import request from 'supertest';
import { seedReferenceData } from '../../src/db/seed';
import { backendToken, ExternalIdp, keyClient, testApp } from '../support/auth';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { insertOrganization, userWithRole } from '../support/fixtures';
import { completeDocument } from '../ingest/documents';
import { TOUCHED_TABLES } from '../ingest/fixture';

/**
 * REVIEW helpers for tests/review/writes-*.test.ts: two hospitals, real tokens (backend clients of our
 * own token endpoint, users of a real external IdP), requests, row counts. Nothing is mocked.
 */

export const MRN = 'http://hospital.example/mrn';
export const FHIR_JSON = 'application/fhir+json';
export const JSON_PATCH = 'application/json-patch+json';
export const SESSION_SYSTEM = 'https://fhir.medilens.ai/sid/session-id';
export const ALL = 'system/Patient.cruds system/DiagnosticReport.cr system/Observation.cr';
export const WRITE_TABLES = [...new Set(['users', 'user_profiles', 'patient_identifiers', ...TOUCHED_TABLES])];
/** SQL, placeholders, internal names or stack frames: never in a client's answer. */
export const INTERNALS =
  /\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|WHERE|JOIN)\b|\$\d\b|fhir_patient|patient_identifiers|users_\w+_key|\.ts:\d+|\bat [\w.<>]+ \(|QueryFailedError|node_modules|duplicate key|violates/;

export const newMrn = (prefix = 'MRN') => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
export const urn = () => `urn:uuid:${crypto.randomUUID()}`;

export function patient(mrn: string, extra: Partial<Patient> = {}): Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ system: MRN, value: mrn }],
    name: [{ use: 'official', family: 'Doe', given: ['Jane'] }],
    gender: 'female',
    birthDate: '1980-04-01',
    ...extra,
  };
}

const text = (body: unknown) => (typeof body === 'string' ? body : JSON.stringify(body));

export interface Api {
  create(body: unknown, headers?: Record<string, string>): request.Test;
  update(id: string, body: unknown, headers?: Record<string, string>): request.Test;
  conditionalUpdate(query: string, body: unknown, headers?: Record<string, string>): request.Test;
  patch(id: string, ops: unknown, headers?: Record<string, string>): request.Test;
  remove(id: string): request.Test;
  read(id: string): request.Test;
  get(path: string): request.Test;
  bundle(body: unknown, headers?: Record<string, string>): request.Test;
  ingest(doc: unknown): request.Test;
}

export function api(app: Express, token: string): Api {
  const send = (req: request.Test, body: unknown, headers: Record<string, string>) =>
    req.auth(token, { type: 'bearer' }).set({ 'Content-Type': FHIR_JSON, ...headers }).send(text(body));
  return {
    create: (body, headers = {}) => send(request(app).post('/fhir/Patient'), body, headers),
    update: (id, body, headers = {}) => send(request(app).put(`/fhir/Patient/${id}`), body, headers),
    conditionalUpdate: (query, body, headers = {}) => send(request(app).put(`/fhir/Patient?${query}`), body, headers),
    patch: (id, ops, headers = {}) => send(request(app).patch(`/fhir/Patient/${id}`), ops, { 'Content-Type': JSON_PATCH, ...headers }),
    remove: (id) => request(app).delete(`/fhir/Patient/${id}`).auth(token, { type: 'bearer' }),
    read: (id) => request(app).get(`/fhir/Patient/${id}`).auth(token, { type: 'bearer' }),
    get: (path) => request(app).get(path.startsWith('/') ? path : `/fhir/${path}`).auth(token, { type: 'bearer' }),
    bundle: (body, headers = {}) => send(request(app).post('/fhir'), body, headers),
    ingest: (doc) => send(request(app).post('/medilens/assessments'), doc, { 'Content-Type': 'application/json' }),
  };
}

export interface Fixture {
  db: TestDatabase;
  app: Express;
  orgA: string;
  orgB: string;
  idp: ExternalIdp;
  token(scope: string, organization?: string | null): Promise<string>;
  client(scope?: string, organization?: string | null): Promise<Api>;
  /** A signed-in MediLens user (external IdP) with `role` in `organization`, and their token's scopes. */
  user(role: 'patient' | 'clinician', scope: string, organization?: string): Promise<{ id: string; api: Api }>;
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  counts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export async function fixture(): Promise<Fixture> {
  const db = await openTestDatabase({ poolSize: 10 });
  const idp = await ExternalIdp.start();
  const app = testApp(db, idp.env());
  await seedReferenceData(db.dataSource);
  const orgA = await insertOrganization(db.dataSource, 'Hospital A');
  const orgB = await insertOrganization(db.dataSource, 'Hospital B');
  const sql = <T>(q: string, params: unknown[] = []) => db.dataSource.query(q, params) as Promise<T[]>;
  let clients = 0;
  const token = async (scope: string, organization: string | null = orgA) => {
    const id = `rw-${++clients}-${crypto.randomUUID().slice(0, 6)}`;
    return backendToken(app, id, await keyClient(db, id, scope, organization), scope);
  };
  return {
    db, app, orgA, orgB, idp, sql, token,
    client: async (scope = ALL, organization = orgA) => api(app, await token(scope, organization)),
    async user(role, scope, organization = orgA) {
      const id = await userWithRole(db.dataSource, organization, `${role}-user`, role);
      const [{ clerk_user_id: sub }] = await sql<{ clerk_user_id: string }>(`SELECT clerk_user_id FROM users WHERE id = $1`, [id]);
      return { id, api: api(app, await idp.token({ sub, scope })) };
    },
    async counts() {
      const [row] = await sql<Record<string, string | number>>(`SELECT ${WRITE_TABLES.map((t) => `(SELECT count(*) FROM ${t})::int AS ${t}`).join(', ')}`);
      return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
    },
    async close() {
      await idp.stop();
      await db.close();
    },
  };
}

/** The status and an OperationOutcome without internals (shows the body when the status differs). */
export function expectOutcome(res: request.Response, status: number, diagnostics?: RegExp): OperationOutcome {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { resourceType: 'OperationOutcome' } });
  expect(INTERNALS.exec(res.text ?? '')?.[0] ?? null).toBeNull();
  if (diagnostics) expect((res.body as OperationOutcome).issue.map((i) => i.diagnostics ?? '').join(' | ')).toMatch(diagnostics);
  return res.body as OperationOutcome;
}

/**
 * A result as FHIR resources: a cardiology result delivered natively once, read back as a
 * DiagnosticReport with its Observations, to be re-sent in transaction Bundles (id and meta removed).
 */
export async function resultTemplate(f: Fixture, a: Api): Promise<{ report: DiagnosticReport; observations: Observation[] }> {
  const owner = (await a.create(patient(newMrn('TPL'))).expect(201)).body as Patient;
  const native = await a.ingest(completeDocument('cardiology', owner.id!));
  expect(native.status).toBe(201);
  const report = (await a.get(`DiagnosticReport/${native.body.assessment_id}`).expect(200)).body as DiagnosticReport;
  const observations = await Promise.all(report.result!.map(async (r) => (await a.get(r.reference!).expect(200)).body as Observation));
  return { report, observations };
}

/** The report entry and its Observation entries, about `subject`, with a new session. */
export function resultEntries(tpl: { report: DiagnosticReport; observations: Observation[] }, subject: string, session = `rv-${crypto.randomUUID()}`): BundleEntry[] {
  const urls = tpl.observations.map(() => urn());
  return JSON.parse(
    JSON.stringify([
      {
        fullUrl: urn(),
        resource: { ...tpl.report, id: undefined, meta: undefined, identifier: [{ system: SESSION_SYSTEM, value: session }], subject: { reference: subject }, result: urls.map((u) => ({ reference: u })) },
        request: { method: 'POST', url: 'DiagnosticReport' },
      },
      ...tpl.observations.map((o, i) => ({ fullUrl: urls[i], resource: { ...o, id: undefined, meta: undefined, subject: { reference: subject } }, request: { method: 'POST', url: 'Observation' } })),
    ]),
  );
}

export const bundle = (entry: BundleEntry[], type: 'transaction' | 'batch' = 'transaction'): Bundle => ({ resourceType: 'Bundle', type, entry });
