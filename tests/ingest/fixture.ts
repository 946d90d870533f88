import type { Express } from 'express';
import request from 'supertest';
import { seedReferenceData } from '../../src/db/seed';
import { backendToken, keyClient, testApp } from '../support/auth';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { insertOrganization, insertUser } from '../support/fixtures';

/** Two clinics with a patient each, and a way to get real tokens for clients of either (or of none). */
export interface IngestFixture {
  db: TestDatabase;
  app: Express;
  orgA: string;
  orgB: string;
  patientA: string;
  patientB: string;
  /** A backend client token with exactly `scope`, bound to `organization` (null: all organizations). */
  token(scope: string, organization?: string | null): Promise<string>;
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  post(body: unknown, token: string, contentType?: string): request.Test;
  /** Row counts of every table ingestion writes to (and the audit and history its triggers write). */
  counts(): Promise<Record<string, number>>;
}

export const WRITE_SCOPE = 'system/DiagnosticReport.cr system/Observation.cr';

export const TOUCHED_TABLES = [
  'assessments', 'pipeline_stages', 'biomarker_values', 'retinal_results', 'speech_results', 'cardiology_results',
  'radiology_results', 'dermatology_results', 'cognitive_results', 'ai_explanations', 'audit_events', 'resource_history',
];

/**
 * How a table's rows are counted for "nothing was written": audit_events counts the backend trigger's
 * events (data changed), not the gateway's, which it records for every request, refused or not (reads
 * asynchronously, at any moment). tests/audit/ checks those.
 */
export const countOf = (table: string): string =>
  table === 'audit_events'
    ? `(SELECT count(*) FROM audit_events WHERE event_type NOT IN ('rest', 'login'))::int AS audit_events`
    : `(SELECT count(*) FROM ${table})::int AS ${table}`;

export async function ingestFixture(env: Record<string, string> = {}): Promise<IngestFixture> {
  const db = await openTestDatabase();
  const app = testApp(db, env);
  await seedReferenceData(db.dataSource);
  const orgA = await insertOrganization(db.dataSource, 'Clinic A');
  const orgB = await insertOrganization(db.dataSource, 'Clinic B');
  const patientA = await insertUser(db.dataSource, orgA, 'Ada');
  const patientB = await insertUser(db.dataSource, orgB, 'Bo');
  let clients = 0;
  const sql = <T>(text: string, params: unknown[] = []) => db.dataSource.query(text, params) as Promise<T[]>;
  return {
    db, app, orgA, orgB, patientA, patientB, sql,
    async token(scope, organization = orgA) {
      const id = `ingest-${++clients}-${Math.random().toString(36).slice(2, 8)}`;
      return backendToken(app, id, await keyClient(db, id, scope, organization), scope);
    },
    post(body, token, contentType = 'application/json') {
      const req = request(app).post('/medilens/assessments').auth(token, { type: 'bearer' }).set('Content-Type', contentType);
      return req.send(typeof body === 'string' ? body : JSON.stringify(body));
    },
    async counts() {
      const [row] = await sql<Record<string, string | number>>(`SELECT ${TOUCHED_TABLES.map(countOf).join(', ')}`);
      return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
    },
  };
}
