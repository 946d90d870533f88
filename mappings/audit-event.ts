import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding, Reference } from 'fhir/r4';
import {
  APPLICATION_SERVER,
  AUDIT_AGENT_TYPES,
  AUDIT_ENTITY,
  AUDIT_EVENT_TYPES,
  auditEventKind,
  BALP_PROFILE,
  humanize,
  LOGIN_SUBTYPE,
  medilensSystems,
  RESTFUL_INTERACTION,
  RESTFUL_INTERACTIONS,
  type AuditEventKind,
} from './codes';
import { iso, type MappingContext, type Timestamp, type ViewRow } from './context';

/**
 * One row of fhir_audit_event (the AuditTrail migration): an audit_events row with BALP's columns. Array
 * columns arrive as arrays from the drivers, or as Postgres array literals from a driver without a
 * parser for the element type; both are read.
 */
export interface AuditEventRow extends ViewRow {
  recorded: Timestamp;
  /** Position in the hash chain (bigint: a string from the driver). */
  seq: string | number;
  /** 'rest', 'login', or the MediLens backend's (assessment_created / _updated / _deleted ...). */
  event_type: string;
  /** restful-interaction code for rest, 'login' for login, NULL for the backend's events. */
  subtype: string | null;
  /** C/R/U/D/E; the view passes anything else the backend wrote through unchanged. */
  action_code: string | null;
  outcome: number | string;
  outcome_desc: string | null;
  request_id: string | null;
  client_id: string | null;
  subject: string | null;
  fhir_user: string | null;
  user_id: string | null;
  actor_type: string | null;
  /** The caller's IP address (host() of the inet). */
  address: string | null;
  user_agent: string | null;
  /** The gateway instance that recorded the event (name@host); NULL for the MediLens backend's. */
  source: string | null;
  /** A search's path and query string. */
  query: string | null;
  entities: string[] | string | null;
  patients: string[] | string | null;
  organizations: string[] | string | null;
  resource_type: string | null;
  resource_id: string | null;
  details: Record<string, unknown> | null;
}

/** What AuditEvent.source.observer and the backend agent are called for the MediLens backend's events. */
export const MEDILENS_BACKEND = 'MediLens backend';
/** Who the client agent is when the request named no client (a request without a usable token). */
export const UNIDENTIFIED_CLIENT = 'unidentified client';

const ACTIONS = new Set(['C', 'R', 'U', 'D', 'E']);
const OUTCOMES = new Set(['0', '4', '8', '12']);
/** Reference types AuditEvent.agent.who may point at (R4); a fhirUser of another type becomes an identifier. */
const AGENT_REFERENCE = /(?:^|\/)(Practitioner|PractitionerRole|Patient|RelatedPerson|Organization|Device)\/[A-Za-z0-9\-.]{1,64}$/;

/**
 * The restful interaction of a successful rest event -> the BALP profile it conforms to, and the
 * action that profile fixes. History interactions have no BALP profile.
 */
const BALP_PROFILES: Readonly<Record<string, { name: 'Read' | 'Query' | 'Create' | 'Update' | 'Delete'; action: string }>> = {
  read: { name: 'Read', action: 'R' },
  vread: { name: 'Read', action: 'R' },
  search: { name: 'Query', action: 'E' },
  'search-type': { name: 'Query', action: 'E' },
  'search-system': { name: 'Query', action: 'E' },
  create: { name: 'Create', action: 'C' },
  update: { name: 'Update', action: 'U' },
  patch: { name: 'Update', action: 'U' },
  delete: { name: 'Delete', action: 'D' },
};

/**
 * An audit_events row as a FHIR R4 AuditEvent shaped per IHE BALP (Basic Audit Log Patterns):
 * - rest (a FHIR interaction): type audit-event-type#rest, subtype restful-interaction; agents client
 *   (DCM 110153 Source Role ID, with the caller's network address), server (DCM 110152 Destination Role
 *   ID, the gateway instance) and, for a user token, the user (IRCP for reads and searches, AUT for
 *   writes, as BALP's Read/Query and Create/Update profiles ask); entities: the transaction (X-Request-Id),
 *   the resources touched (versioned where the version is known), the query (base64, role 24) and each
 *   patient (type 1, role 1).
 * - login (a token request): DCM 110114 User Authentication / 110122 Login, same agents.
 * - the MediLens backend's trigger (assessment_*): DCM 110110 Patient Record, subtype a MediLens code
 *   (the event_type); agents the backend (DCM 110150 Application) and the MediLens user who acted, when
 *   one was set; the assessment is the DiagnosticReport of the same id. Any other backend event_type:
 *   DCM 110100 Application Activity, same shape.
 * meta.profile names the BALP profile only where the event conforms: a successful read, search, create,
 * update or delete with everything the profile requires (Patient* when exactly one patient was touched:
 * BALP's Patient profiles have exactly one patient entity).
 */
export function toAuditEvent(row: AuditEventRow, ctx: MappingContext): AuditEvent {
  const systems = medilensSystems(ctx);
  const kind = auditEventKind(row.event_type);
  const gateway = kind === 'rest' || kind === 'login';
  const outcome = String(row.outcome);
  const action = row.action_code !== null && ACTIONS.has(row.action_code) ? row.action_code : undefined;
  const patients = uuidArray(row.patients);
  const versions = versionsOf(row.details);

  const subtype = subtypeOf(kind, row, systems.auditEvent);
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    id: row.id,
    meta: { versionId: String(row.version_id), lastUpdated: iso(row.last_updated) },
    type: { ...AUDIT_EVENT_TYPES[kind] },
    ...(subtype ? { subtype: [subtype] } : {}),
    ...(action ? { action: action as AuditEvent['action'] } : {}),
    recorded: iso(row.recorded),
    ...(OUTCOMES.has(outcome) ? { outcome: outcome as AuditEvent['outcome'] } : {}),
    ...(row.outcome_desc ? { outcomeDesc: row.outcome_desc } : {}),
    agent: gateway ? gatewayAgents(row, action, systems) : backendAgents(row, systems),
    source: {
      observer: { display: row.source ?? MEDILENS_BACKEND },
      type: [{ ...APPLICATION_SERVER }],
    },
  };

  const entity: AuditEventEntity[] = [];
  if (row.request_id) entity.push({ what: { identifier: { value: row.request_id } }, type: { ...AUDIT_ENTITY.transaction } });
  const data = textArray(row.entities);
  for (const ref of data) entity.push(dataEntity(ref, versions[ref]));
  if (!gateway && row.resource_id) {
    const ref = row.resource_type === 'assessment' ? `DiagnosticReport/${row.resource_id}` : null;
    if (ref === null || !data.includes(ref)) {
      entity.push(
        ref !== null
          ? dataEntity(ref, undefined)
          : {
              what: { identifier: { value: row.resource_id }, ...(row.resource_type ? { display: row.resource_type } : {}) },
              type: { ...AUDIT_ENTITY.systemObject },
              role: { ...AUDIT_ENTITY.domainResourceRole },
            },
      );
    }
  }
  if (row.query) {
    entity.push({ type: { ...AUDIT_ENTITY.systemObject }, role: { ...AUDIT_ENTITY.queryRole }, query: Buffer.from(row.query, 'utf8').toString('base64') });
  }
  for (const patient of patients) {
    entity.push({ what: { reference: `Patient/${patient}` }, type: { ...AUDIT_ENTITY.person }, role: { ...AUDIT_ENTITY.patientRole } });
  }
  if (entity.length) event.entity = entity;

  const profile = balpProfile(kind, row, action, outcome, data.length, patients.length);
  if (profile) event.meta!.profile = [profile];
  return event;
}

function subtypeOf(kind: AuditEventKind, row: AuditEventRow, medilensSystem: string): Coding | null {
  switch (kind) {
    case 'rest':
      if (row.subtype === null) return null;
      return RESTFUL_INTERACTIONS.includes(row.subtype)
        ? { system: RESTFUL_INTERACTION, code: row.subtype, display: row.subtype }
        : { system: medilensSystem, code: row.subtype, display: humanize(row.subtype) };
    case 'login':
      return { ...LOGIN_SUBTYPE };
    default:
      return { system: medilensSystem, code: row.event_type, display: humanize(row.event_type) };
  }
}

/** The client, the gateway, and the user when the token was a user's (a backend client's sub is its client id). */
function gatewayAgents(row: AuditEventRow, action: string | undefined, systems: ReturnType<typeof medilensSystems>): AuditEventAgent[] {
  const user = userAgent(row, action, systems);
  const client: AuditEventAgent = {
    type: { coding: [{ ...AUDIT_AGENT_TYPES.client }] },
    who: row.client_id ? { identifier: { system: systems.clientId, value: row.client_id } } : { display: UNIDENTIFIED_CLIENT },
    requestor: user === null,
  };
  if (row.address) client.network = { address: row.address, type: '2' };
  const server: AuditEventAgent = {
    type: { coding: [{ ...AUDIT_AGENT_TYPES.server }] },
    who: { display: row.source ?? MEDILENS_BACKEND },
    requestor: false,
  };
  const host = hostOf(row.source);
  if (host) server.network = { address: host, type: '1' };
  return user ? [client, server, user] : [client, server];
}

/** The MediLens backend, and the MediLens user who acted (app.current_user_id) when one was set. */
function backendAgents(row: AuditEventRow, systems: ReturnType<typeof medilensSystems>): AuditEventAgent[] {
  const backend: AuditEventAgent = {
    type: { coding: [{ ...AUDIT_AGENT_TYPES.application }] },
    who: { display: MEDILENS_BACKEND },
    requestor: row.user_id === null,
  };
  if (row.address) backend.network = { address: row.address, type: '2' };
  if (row.user_id === null) return [backend];
  const reads = row.action_code === 'R' || row.action_code === 'E';
  return [
    backend,
    {
      type: { coding: [{ ...(reads ? AUDIT_AGENT_TYPES.recipient : AUDIT_AGENT_TYPES.author) }] },
      who: { identifier: { system: systems.userId, value: row.user_id } },
      requestor: true,
    },
  ];
}

function userAgent(row: AuditEventRow, action: string | undefined, systems: ReturnType<typeof medilensSystems>): AuditEventAgent | null {
  const subject = row.subject && row.subject !== row.client_id ? row.subject : null;
  if (!row.fhir_user && !row.user_id && !subject) return null;
  let who: Reference;
  if (row.fhir_user && AGENT_REFERENCE.test(row.fhir_user)) who = { reference: row.fhir_user };
  else if (row.user_id) who = { identifier: { system: systems.userId, value: row.user_id } };
  else if (subject) who = { identifier: { value: subject } };
  else who = { display: row.fhir_user! };
  const writes = action === 'C' || action === 'U' || action === 'D';
  return {
    type: { coding: [{ ...(writes ? AUDIT_AGENT_TYPES.author : AUDIT_AGENT_TYPES.recipient) }] },
    who,
    // The token's sub, when who names the person otherwise.
    ...(row.subject && who.identifier?.value !== row.subject ? { altId: row.subject } : {}),
    requestor: true,
  };
}

function dataEntity(ref: string, version: string | undefined): AuditEventEntity {
  return {
    what: { reference: version ? `${ref}/_history/${version}` : ref },
    type: { ...AUDIT_ENTITY.systemObject },
    role: { ...AUDIT_ENTITY.domainResourceRole },
  };
}

/**
 * The BALP profile a successful event conforms to, if any: it needs the client's network address, the
 * server's host (from source, name@host), exactly one resource for a read or write, the query for a
 * search; Patient* when exactly one patient was touched.
 */
function balpProfile(kind: AuditEventKind, row: AuditEventRow, action: string | undefined, outcome: string, resources: number, patients: number): string | null {
  if (kind !== 'rest' || outcome !== '0' || row.subtype === null || !Object.hasOwn(BALP_PROFILES, row.subtype)) return null;
  const profile = BALP_PROFILES[row.subtype];
  if (action !== profile.action || !row.address || !hostOf(row.source)) return null;
  if (profile.name === 'Query' ? !row.query : resources !== 1) return null;
  return `${BALP_PROFILE}/IHE.BasicAudit.${patients === 1 ? `Patient${profile.name}` : profile.name}`;
}

/** The host of a source written name@host. */
function hostOf(source: string | null): string | null {
  const at = source?.lastIndexOf('@') ?? -1;
  return source && at >= 0 && at < source.length - 1 ? source.slice(at + 1) : null;
}

/** details.versions: the version of each entity written (or read), by reference. */
function versionsOf(details: Record<string, unknown> | null): Record<string, string> {
  const versions = details?.versions;
  if (!versions || typeof versions !== 'object' || Array.isArray(versions)) return {};
  const out: Record<string, string> = {};
  for (const [ref, version] of Object.entries(versions)) {
    if ((typeof version === 'string' || typeof version === 'number') && /^[1-9]\d{0,8}$/.test(String(version))) out[ref] = String(version);
  }
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuidArray(value: string[] | string | null): string[] {
  return textArray(value).filter((v) => UUID.test(v));
}

/** An array column as an array: the driver's array, or a Postgres array literal ({a,"b c",NULL}). */
export function textArray(value: string[] | string | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  const text = value.trim();
  if (!text.startsWith('{') || !text.endsWith('}')) return [];
  const out: string[] = [];
  const body = text.slice(1, -1);
  let i = 0;
  while (i < body.length) {
    let item = '';
    let quoted = false;
    if (body[i] === '"') {
      quoted = true;
      i++;
      while (i < body.length && body[i] !== '"') {
        if (body[i] === '\\') i++;
        item += body[i++];
      }
      i++; // closing quote
    } else {
      while (i < body.length && body[i] !== ',') item += body[i++];
    }
    if (quoted || (item !== 'NULL' && item !== '')) out.push(item);
    i++; // comma
  }
  return out;
}
