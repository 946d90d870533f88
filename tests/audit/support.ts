import type { AuditEvent } from 'fhir/r4';
import type { Express } from 'express';
import { createApp } from '../../src/app';
import { AuditTrail, DEFAULT_AUDIT_OPTIONS, type AuditTrailOptions } from '../../src/audit/trail';
import { loadConfig } from '../../src/config';
import type { Database } from '../../src/db/datasource';
import { createLogger } from '../../src/logging';
import { GATEWAY } from '../support/auth';

/** Helpers of the audit trail tests (tests/audit, tests/journeys/auditor-trace): an app with a trail the test owns, events read back. */

export const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
export const RESTFUL = 'http://hl7.org/fhir/restful-interaction';
export const CLIENT_ID_SYSTEM = 'https://fhir.medilens.ai/sid/client-id';
const CLIENT_AGENT = '110153';

/** A trail the test flushes and closes itself; the source names this test run. */
export function auditTrail(db: Database, source: string, options: Partial<AuditTrailOptions> = {}): AuditTrail {
  return new AuditTrail(db.dataSource, createLogger('silent'), { ...DEFAULT_AUDIT_OPTIONS, source, ...options });
}

/** The test app (configured as GATEWAY) writing to `audit`. */
export function auditedApp(db: Database, audit: AuditTrail, env: Record<string, string> = {}): Express {
  return createApp({ config: loadConfig({ PORT: '0', PUBLIC_BASE_URL: GATEWAY, ...env }), db, logger: createLogger('silent'), audit });
}

/** What an auditor looks at in one AuditEvent, flattened for exact comparisons. */
export interface EventSummary {
  id: string;
  /** type.code: rest, 110114 (login), 110110 (the MediLens backend's assessment events) ... */
  type: string;
  subtype: string | null;
  action: string | null;
  outcome: string | null;
  /** The client agent's client id; null when the request named no client ("unidentified client"). */
  client: string | null;
  /** The client agent's network address. */
  address: string | null;
  /** The user agent (who.reference, else who.identifier.value), when a user's token was used. */
  user: string | null;
  /** The data entities (role 4), as their what.reference, sorted. */
  entities: string[];
  /** The patient entities (role 1), Patient/<id>, sorted. */
  patients: string[];
  /** The X-Request-Id (BALP transaction entity). */
  requestId: string | null;
  /** The query entity, base64-decoded. */
  query: string | null;
  recorded: string;
  outcomeDesc: string | null;
}

export function summarize(e: AuditEvent): EventSummary {
  const client = e.agent.find((a) => a.type?.coding?.some((c) => c.code === CLIENT_AGENT));
  const user = e.agent.find((a) => a.type?.coding?.some((c) => c.code === 'IRCP' || c.code === 'AUT'));
  const role = (code: string) => (e.entity ?? []).filter((x) => x.role?.code === code);
  const query = role('24')[0]?.query;
  return {
    id: e.id!,
    type: e.type.code!,
    subtype: e.subtype?.[0]?.code ?? null,
    action: e.action ?? null,
    outcome: e.outcome ?? null,
    client: client?.who?.identifier?.system === CLIENT_ID_SYSTEM ? client.who.identifier.value! : null,
    address: client?.network?.address ?? null,
    user: user ? (user.who?.reference ?? user.who?.identifier?.value ?? null) : null,
    entities: role('4').map((x) => x.what!.reference!).sort(),
    patients: role('1').map((x) => x.what!.reference!).sort(),
    requestId: (e.entity ?? []).find((x) => x.type?.code === 'XrequestId')?.what?.identifier?.value ?? null,
    query: query ? Buffer.from(query, 'base64').toString('utf8') : null,
    recorded: e.recorded,
    outcomeDesc: e.outcomeDesc ?? null,
  };
}

/** The parameters of a query (path?a=b&c=d) as sorted [name, value] pairs: equal for the same query however it was encoded. */
export function queryParams(query: string): { path: string; params: [string, string][] } {
  const [path, search = ''] = query.split('?');
  return { path, params: [...new URLSearchParams(search)].sort(([a, x], [b, y]) => a.localeCompare(b) || x.localeCompare(y)) };
}
