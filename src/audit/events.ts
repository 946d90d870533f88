import net from 'node:net';
import { UUID } from '../db/context';
import type { AuditAction, AuditOutcome, AuditRow, AuditScope } from './record';

/** BALP's action for each interaction: reads of one resource R, queries and operations E. */
const ACTIONS: Readonly<Record<string, AuditAction>> = {
  read: 'R',
  vread: 'R',
  'history-instance': 'R',
  'history-type': 'E',
  'search-type': 'E',
  create: 'C',
  update: 'U',
  patch: 'U',
  delete: 'D',
  capabilities: 'E',
  transaction: 'E',
  batch: 'E',
  operation: 'E',
  login: 'E',
};

export const actionOf = (subtype: string): AuditAction => ACTIONS[subtype] ?? 'E';

/**
 * The outcome an HTTP status stands for: a refusal or a client's mistake is a minor failure (4), a
 * server error serious (8), a server that could not serve at all (503) major (12).
 */
export function outcomeOf(status: number): AuditOutcome {
  if (status < 400) return 0;
  if (status === 503) return 12;
  return status >= 500 ? 8 : 4;
}

/** Longest outcome description kept: the OperationOutcome's text, never a stack or SQL (those are not in it). */
const MAX_DESCRIPTION = 500;

/** The audit_events row for one interaction that ended with `status`. */
export function auditRow(scope: AuditScope, status: number, source: string, description: string | null): AuditRow {
  const access = scope.access;
  const facts = scope.facts ?? {};
  const outcome = outcomeOf(status);
  const entities = new Set(facts.entities ?? []);
  if (entities.size === 0 && scope.resourceType && scope.id !== null) entities.add(`${scope.resourceType}/${scope.id}`);
  const touched = (facts.patients ?? []).filter((id) => UUID.test(id));
  const patients = new Set([...touched, ...(scope.asked ?? [])].filter((id) => UUID.test(id)));
  // A refused read of a Patient still names whose record was asked for.
  if (scope.resourceType === 'Patient' && scope.id !== null && UUID.test(scope.id) && scope.subtype !== 'create') patients.add(scope.id);
  const organizations = new Set([...(facts.organizations ?? []), ...(access?.organizationId ? [access.organizationId] : [])].filter((id) => UUID.test(id)));
  const target = scope.id !== null && UUID.test(scope.id) ? scope.id : null;
  const versions = facts.versions && Object.keys(facts.versions).length ? { versions: facts.versions } : {};
  return storable({
    // When it happened, not when its batch reached the database.
    created_at: new Date().toISOString(),
    event_type: scope.eventType,
    subtype: scope.subtype,
    action: actionOf(scope.subtype),
    outcome,
    outcome_desc: description === null ? null : description.slice(0, MAX_DESCRIPTION),
    request_id: scope.request.requestId,
    actor_ip: scope.request.address,
    user_agent: scope.request.userAgent,
    client_id: access?.clientId ?? scope.clientId ?? null,
    subject: access?.subject ?? null,
    fhir_user: access?.fhirUser ?? null,
    user_id: access?.userId ?? null,
    organization_id: access?.organizationId ?? null,
    actor_type: access === null ? 'api' : access.kind === 'user' ? (access.role === 'admin' ? 'admin' : 'user') : 'system',
    source,
    resource_type: scope.resourceType,
    resource_id: target,
    query: scope.query,
    entities: [...entities],
    patients: [...patients],
    organizations: [...organizations],
    details: versions,
    hipaa_relevant: patients.size > 0,
    phi_accessed: touched.length > 0 && outcome === 0,
  });
}

/** NUL and unpaired surrogates: Postgres refuses them in text and JSON, and one such value would fail its whole batch. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A row the database will take, whatever the client sent: request paths, headers and error texts echo
 * client input. Unstorable characters become U+FFFD; an address that is not an IP (a forwarded header
 * is a client's text) is left out.
 */
export function storable<T extends object>(row: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (typeof value === 'string') out[key] = value.replace(UNSTORABLE, '\ufffd');
    else if (Array.isArray(value)) out[key] = value.map((v) => (typeof v === 'string' ? v.replace(UNSTORABLE, '\ufffd') : v));
    else out[key] = value;
  }
  for (const key of ['actor_ip', 'ip_address']) {
    if (typeof out[key] === 'string' && net.isIP(out[key] as string) === 0) out[key] = null;
  }
  return out as T;
}

/** What is stored instead of an event the database still refused: who, when, how it ended, without the client's texts. */
export function quarantined(row: AuditRow): AuditRow {
  return {
    ...row,
    actor_ip: null,
    user_agent: null,
    query: null,
    entities: [],
    resource_type: null,
    outcome_desc: 'The original event held a value the database refused; it is in the gateway log',
  };
}
