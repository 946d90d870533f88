import crypto from 'node:crypto';
import type { Express } from 'express';
import type { Bundle, BundleEntry, DiagnosticReport, Observation, OperationOutcome, Patient } from 'fhir/r4';
import request from 'supertest';
import { seedReferenceData } from '../../src/db/seed';
import { backendToken, ExternalIdp, keyClient, testApp } from '../support/auth';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { insertOrganization, userWithRole } from '../support/fixtures';
import { completeDocument } from '../ingest/documents';
import { countOf } from '../ingest/fixture';
import { api as writeApi, INTERNALS, newMrn, patient, WRITE_TABLES, type Api as WriteApi } from '../writes/support';

/**
 * REVIEW helpers for tests/review/writes-*.test.ts: two hospitals, real tokens (backend clients of our
 * own token endpoint, users of a real external IdP), requests, row counts. Nothing is mocked.
 */

// The write tests' helpers, shared: one request vocabulary for both suites.
export { FHIR_JSON, INTERNALS, JSON_PATCH, MRN, newMrn, patient, WRITE_TABLES } from '../writes/support';
export const SESSION_SYSTEM = 'https://fhir.medilens.ai/sid/session-id';
export const ALL = 'system/Patient.cruds system/DiagnosticReport.cr system/Observation.cr';
export const urn = () => `urn:uuid:${crypto.randomUUID()}`;


export interface Api extends WriteApi {
  ingest(doc: unknown): request.Test;
}

/** The write tests' requests, plus native ingestion. */
export function api(app: Express, token: string): Api {
  return {
    ...writeApi(app, token),
    ingest: (doc) =>
      request(app).post('/medilens/assessments').auth(token, { type: 'bearer' }).set('Content-Type', 'application/json').send(JSON.stringify(doc)),
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
      const [row] = await sql<Record<string, string | number>>(`SELECT ${WRITE_TABLES.map(countOf).join(', ')}`);
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
