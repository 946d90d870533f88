import crypto from 'node:crypto';
import { countOf } from '../ingest/fixture';
import type { Express } from 'express';
import type { OperationOutcome, Patient } from 'fhir/r4';
import request from 'supertest';
import { seedReferenceData } from '../../src/db/seed';
import { backendToken, keyClient, testApp } from '../support/auth';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { insertOrganization } from '../support/fixtures';
import { TOUCHED_TABLES } from '../ingest/fixture';

/** Helpers shared by the write tests (tests/writes/*.test.ts): a database with two clinics, real tokens, requests, row counts. */

export const MRN = 'http://hospital.example/mrn';
export const FHIR_JSON = 'application/fhir+json';
export const JSON_PATCH = 'application/json-patch+json';
/** The identifier system of the MediLens user id the server adds first to every Patient. */
export const USER_ID_SYSTEM = 'https://fhir.medilens.ai/sid/user-id';
export const SCOPE_ALL = 'system/Patient.cruds';

/** Every table a Patient or result write touches, and what its triggers write (history, audit). */
export const WRITE_TABLES = [...new Set(['users', 'user_profiles', 'patient_identifiers', ...TOUCHED_TABLES])];

/** SQL, bind placeholders, views, file positions or stack frames: never in a client's answer. */
export const INTERNALS =
  /\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|WHERE|JOIN)\b|\$\d\b|fhir_patient|patient_identifiers|users_\w+_key|\.ts:\d+|\bat [\w.<>]+ \(|QueryFailedError|node_modules|duplicate key|violates/;

export const newMrn = (prefix = 'MRN') => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

/** A small valid Patient without email (users.email is unique: tests that create many leave it out). */
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

export type Body = unknown;
const text = (body: Body) => (typeof body === 'string' ? body : JSON.stringify(body));

/** The requests of one caller (a real bearer token) against the app. */
export interface Api {
  create(body: Body, headers?: Record<string, string>): request.Test;
  update(id: string, body: Body, headers?: Record<string, string>): request.Test;
  /** PUT /fhir/Patient?<query> */
  conditionalUpdate(query: string, body: Body, headers?: Record<string, string>): request.Test;
  patch(id: string, ops: Body, headers?: Record<string, string>): request.Test;
  remove(id: string): request.Test;
  read(id: string): request.Test;
  get(path: string): request.Test;
  /** POST /fhir with a Bundle */
  bundle(body: Body, headers?: Record<string, string>): request.Test;
}

export function api(app: Express, token: string): Api {
  const send = (req: request.Test, body: Body, headers: Record<string, string>) =>
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
  };
}

export interface WriteFixture {
  db: TestDatabase;
  app: Express;
  orgA: string;
  orgB: string;
  /** A backend client token with exactly `scope`, bound to `organization` (null: a client of all organizations). */
  token(scope: string, organization?: string | null): Promise<string>;
  /** api() with a new client's token. */
  client(scope?: string, organization?: string | null): Promise<Api>;
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  counts(): Promise<Record<string, number>>;
  /** Superseded versions stored for one resource. */
  historyRows(id: string): Promise<number>;
}

export async function writeFixture(opts: { env?: Record<string, string>; poolSize?: number } = {}): Promise<WriteFixture> {
  const db = await openTestDatabase({ poolSize: opts.poolSize ?? 10 });
  const app = testApp(db, opts.env ?? {});
  await seedReferenceData(db.dataSource);
  const orgA = await insertOrganization(db.dataSource, 'Hospital A');
  const orgB = await insertOrganization(db.dataSource, 'Hospital B');
  const sql = <T>(text: string, params: unknown[] = []) => db.dataSource.query(text, params) as Promise<T[]>;
  let clients = 0;
  const token = async (scope: string, organization: string | null = orgA) => {
    const id = `writes-${++clients}-${crypto.randomUUID().slice(0, 6)}`;
    return backendToken(app, id, await keyClient(db, id, scope, organization), scope);
  };
  return {
    db, app, orgA, orgB, sql, token,
    client: async (scope = SCOPE_ALL, organization = orgA) => api(app, await token(scope, organization)),
    async counts() {
      const [row] = await sql<Record<string, string | number>>(`SELECT ${WRITE_TABLES.map(countOf).join(', ')}`);
      return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
    },
    async historyRows(id) {
      const [{ n }] = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM resource_history WHERE resource_id = $1`, [id]);
      return Number(n);
    },
  };
}

export interface Expected {
  code?: string;
  diagnostics?: RegExp;
  /** An expression the first issue (or, with anyIssue, any issue) names exactly, or one matching the RegExp. */
  expression?: string | RegExp;
  anyIssue?: boolean;
}

/** The status, and an OperationOutcome error saying why, with no SQL or stack in it. Shows the body when the status differs. */
export function expectOutcome(res: request.Response, status: number, expected: Expected = {}): OperationOutcome {
  expect({ status: res.status, body: res.body }).toMatchObject({ status });
  expectNoInternals(res);
  const outcome = res.body as OperationOutcome;
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue.length).toBeGreaterThan(0);
  const issues = expected.anyIssue ? outcome.issue : outcome.issue.slice(0, 1);
  for (const issue of issues) expect(issue.severity).toBe(status >= 500 ? 'fatal' : 'error');
  if (expected.code) expect(outcome.issue[0].code).toBe(expected.code);
  if (expected.diagnostics) {
    expect(issues.map((i) => i.diagnostics ?? '')).toEqual(expect.arrayContaining([expect.stringMatching(expected.diagnostics)]));
  }
  if (expected.expression !== undefined) {
    const e = expected.expression;
    expect(issues.flatMap((i) => i.expression ?? [])).toEqual(expect.arrayContaining([typeof e === 'string' ? e : expect.stringMatching(e)]));
  }
  return outcome;
}

export function expectNoInternals(res: request.Response): void {
  const found = INTERNALS.exec(res.text ?? '');
  expect(found ? `${found[0]} in ${res.text}` : null).toBeNull();
}

/** Row counts must not change across `work`. */
export async function expectNothingWritten<T>(f: WriteFixture, work: () => Promise<T>): Promise<T> {
  const before = await f.counts();
  const out = await work();
  expect(await f.counts()).toEqual(before);
  return out;
}

/** The Patient without what the server manages: meta.versionId/lastUpdated, text, and the MediLens user-id identifier. */
export function comparable(resource: Patient): Record<string, unknown> {
  const { meta, text, identifier, id, ...rest } = resource;
  void text;
  void id;
  const { versionId, lastUpdated, ...keptMeta } = meta ?? {};
  void versionId;
  void lastUpdated;
  const identifiers = (identifier ?? []).filter((i) => i.system !== USER_ID_SYSTEM);
  return { ...rest, ...(Object.keys(keptMeta).length ? { meta: keptMeta } : {}), ...(identifiers.length ? { identifier: identifiers } : {}) };
}

export const versionOf = (res: request.Response): string => res.body?.meta?.versionId;
