import type { Coding } from 'fhir/r4';
import { MEDILENS_BACKEND, toAuditEvent, type AuditEventRow } from '../../../mappings/audit-event';
import {
  AUDIT_ENTITY,
  AUDIT_EVENT_ACTION,
  AUDIT_EVENT_OUTCOME,
  AUDIT_EVENT_TYPES,
  LOGIN_SUBTYPE,
  medilensSystems,
  RESTFUL_INTERACTION,
  RESTFUL_INTERACTIONS,
  type AuditEventKind,
} from '../../../mappings/codes';
import { UUID } from '../../db/context';
import { ROW, type ResourceDefinition, type SearchReference } from '../definition';
import type { Token } from '../parameters/token';
import { or, type SqlParams } from '../sql';
import { commonParameters, lastUpdatedSort, tokenMatches } from './common';

const BASE_SP = 'http://hl7.org/fhir/SearchParameter';

/** The resource types an event's entities name: every type the gateway serves but AuditEvent itself. */
export const AUDITED_TYPES = ['Patient', 'Practitioner', 'Observation', 'DiagnosticReport', 'Device', 'Organization', 'Provenance'];

/** Rows written by the MediLens backend rather than the gateway (mappings/audit-event.ts: backend agents). */
const BACKEND = `r.event_type NOT IN ('rest', 'login')`;

/** Each kind of event (codes.ts, auditEventKind) as a predicate on event_type. */
const KIND: Readonly<Record<AuditEventKind, string>> = {
  rest: `r.event_type = 'rest'`,
  login: `r.event_type = 'login'`,
  'patient-record': `starts_with(r.event_type, 'assessment_')`,
  application: `${BACKEND} AND NOT starts_with(r.event_type, 'assessment_')`,
};

/**
 * The rows that carry each entity type and role, exactly as toAuditEvent emits them: the transaction
 * entity (X-Request-Id), data entities (entities[], and the backend's resource_id), the query entity,
 * patient entities (patients[]).
 */
const DATA = `cardinality(r.entities) > 0 OR (${BACKEND} AND r.resource_id IS NOT NULL)`;
const ENTITY_TYPES: readonly [Coding, string][] = [
  [AUDIT_ENTITY.transaction, 'r.request_id IS NOT NULL'],
  [AUDIT_ENTITY.systemObject, `${DATA} OR r.query IS NOT NULL`],
  [AUDIT_ENTITY.person, 'cardinality(r.patients) > 0'],
];
const ENTITY_ROLES: readonly [Coding, string][] = [
  [AUDIT_ENTITY.domainResourceRole, DATA],
  [AUDIT_ENTITY.queryRole, 'r.query IS NOT NULL'],
  [AUDIT_ENTITY.patientRole, 'cardinality(r.patients) > 0'],
];

/** A token over codings that each stand for a predicate: OR of the predicates whose coding matches. */
const codedPredicate =
  (choices: readonly (readonly [Coding, string])[]) =>
  (_params: SqlParams, token: Token): string =>
    or(choices.filter(([coding]) => tokenMatches(token, [coding])).map(([, sql]) => sql));

/**
 * AuditEvent <- fhir_audit_event (the AuditTrail migration): the gateway's record of every FHIR
 * interaction and token request, and the MediLens backend's trigger events, as IHE BALP AuditEvents.
 * Read-only and unversioned (an event never changes: no vread, no history); readable by operators only
 * (rowAccess: admins and backend clients holding an AuditEvent scope by name), each event by the
 * auditors of every organization it names.
 */
export function auditEventDefinition(canonicalBase: string): ResourceDefinition<AuditEventRow> {
  const systems = medilensSystems({ canonicalBase });
  return {
    type: 'AuditEvent',
    tenancy: 'audit',
    view: 'fhir_audit_event',
    // No single profile: each event names its BALP profile (Read, Query, Create ...) in meta.profile.
    history: false,
    parameters: {
      ...commonParameters(),
      date: {
        type: 'date',
        description: 'When the event was recorded',
        definition: `${BASE_SP}/AuditEvent-date`,
        column: 'r.recorded',
        precision: 'instant',
      },
      patient: {
        type: 'reference',
        description: 'A patient whose data the event touched (the patient entities)',
        definition: `${BASE_SP}/AuditEvent-patient`,
        targets: ['Patient'],
        missing: 'cardinality(r.patients) = 0',
        where: (params, refs) => namesPatients(params.add(unique(refs.map((r) => r.id)))),
      },
      entity: {
        type: 'reference',
        description:
          'A resource the event read or wrote (Type/id, or an id of any type), including its patients; ' +
          'a MediLens backend assessment event names its DiagnosticReport',
        definition: `${BASE_SP}/AuditEvent-entity`,
        targets: AUDITED_TYPES,
        missing: `NOT (${DATA} OR cardinality(r.patients) > 0)`,
        where: entityPredicate,
      },
      agent: {
        type: 'reference',
        description:
          "Who took part: Practitioner/<id> or Patient/<id> matches the user of that id (the token's fhirUser; also the " +
          "MediLens backend's events of that user); a bare value matches an OAuth client id, a token subject (sub) or " +
          'a MediLens user id, and need not be a FHIR id (client ids and subjects are not)',
        definition: `${BASE_SP}/AuditEvent-agent`,
        targets: ['Practitioner', 'Patient'],
        bareValues: true,
        where: agentPredicate,
      },
      source: {
        type: 'reference',
        description: `Who recorded the event (source.observer): a gateway instance (name@host), or "${MEDILENS_BACKEND}"`,
        definition: `${BASE_SP}/AuditEvent-source`,
        targets: ['Device'],
        bareValues: true,
        where: sourcePredicate,
      },
      type: {
        type: 'token',
        description: `${AUDIT_EVENT_TYPES.rest.system}|rest (FHIR interactions), DCM 110114 (token requests), DCM 110110 (MediLens backend assessment changes), DCM 110100 (other backend events)`,
        definition: `${BASE_SP}/AuditEvent-type`,
        where: codedPredicate((Object.keys(KIND) as AuditEventKind[]).map((kind) => [AUDIT_EVENT_TYPES[kind], KIND[kind]] as const)),
      },
      subtype: {
        type: 'token',
        description: `restful-interaction code (${RESTFUL_INTERACTION}|read, search-type, create ...), DCM 110122 (login), or a MediLens backend event (${systems.auditEvent}|assessment_created ...)`,
        definition: `${BASE_SP}/AuditEvent-subtype`,
        missing: `r.event_type = 'rest' AND r.subtype IS NULL`,
        where: (params, token) => subtypePredicate(params, token, systems.auditEvent),
      },
      action: {
        type: 'token',
        description: 'C, R, U, D or E',
        definition: `${BASE_SP}/AuditEvent-action`,
        missing: `r.action_code IS NULL OR r.action_code NOT IN ('C', 'R', 'U', 'D', 'E')`,
        where: (params, token) => {
          if (token.system !== undefined && token.system !== AUDIT_EVENT_ACTION) return 'FALSE';
          if (token.code === null) return `r.action_code IN ('C', 'R', 'U', 'D', 'E')`;
          return ['C', 'R', 'U', 'D', 'E'].includes(token.code) ? `r.action_code = ${params.add(token.code)}` : 'FALSE';
        },
      },
      outcome: {
        type: 'token',
        description: '0 (success), 4 (minor failure: refused, invalid), 8 (serious failure), 12 (major failure)',
        definition: `${BASE_SP}/AuditEvent-outcome`,
        where: (params, token) => {
          if (token.system !== undefined && token.system !== AUDIT_EVENT_OUTCOME) return 'FALSE';
          if (token.code === null) return 'TRUE';
          return ['0', '4', '8', '12'].includes(token.code) ? `r.outcome = ${params.add(Number(token.code))}::smallint` : 'FALSE';
        },
      },
      'entity-type': {
        type: 'token',
        description: 'audit-entity-type 1 (a patient), 2 (a resource or query), or BALP XrequestId',
        definition: `${BASE_SP}/AuditEvent-entity-type`,
        where: codedPredicate(ENTITY_TYPES),
      },
      'entity-role': {
        type: 'token',
        description: 'object-role 1 (Patient), 4 (Domain Resource) or 24 (Query)',
        definition: `${BASE_SP}/AuditEvent-entity-role`,
        where: codedPredicate(ENTITY_ROLES),
      },
    },
    sorts: { _lastUpdated: lastUpdatedSort, date: { columns: [{ expr: 'r.recorded', sqlType: 'timestamptz' }] } },
    includes: {},
    // The isSummary elements, and the backbone elements whose children are (who, requestor, observer, what, query).
    summary: ['type', 'subtype', 'action', 'recorded', 'outcome', 'outcomeDesc', 'purposeOfEvent', 'agent', 'source', 'entity'],
    toResource: toAuditEvent,
  };
}

const unique = (values: readonly string[]): string[] => [...new Set(values)];

/** entities[] holds Type/id; a backend assessment event names its assessment (a DiagnosticReport); patients[] the patients. */
function entityPredicate(params: SqlParams, refs: readonly SearchReference[]): string {
  const parts = [`r.entities && ${params.add(unique(refs.map((r) => `${r.type}/${r.id}`)))}::text[]`];
  const reports = unique(refs.filter((r) => r.type === 'DiagnosticReport').map((r) => r.id));
  if (reports.length) parts.push(`r.resource_type = 'assessment' AND r.resource_id = ANY(${params.add(reports)}::uuid[]) AND ${BACKEND}`);
  const patients = unique(refs.filter((r) => r.type === 'Patient').map((r) => r.id));
  if (patients.length) parts.push(namesPatients(params.add(patients)));
  return or(parts);
}

/**
 * Practitioner/x and Patient/x: the MediLens user x (a user's Practitioner and Patient ids are its user
 * id, and a token's fhirUser must name the signed-in user, so user_id is x exactly when fhirUser is
 * Practitioner/x or Patient/x, relative or absolute; the indexed user_id answers for both, and also finds
 * the MediLens backend's events of that user, which have no fhirUser). A bare value: an OAuth client id,
 * a token subject, or (a UUID) a MediLens user id.
 */
function agentPredicate(params: SqlParams, refs: readonly SearchReference[]): string {
  const parts: string[] = [];
  const bare = unique(refs.filter((r) => r.bare).map((r) => r.id));
  const users = unique([...refs.filter((r) => !r.bare).map((r) => r.id), ...bare.filter((v) => UUID.test(v))]);
  if (users.length) parts.push(`r.user_id = ANY(${params.add(users)}::uuid[])`);
  if (bare.length) {
    const p = params.add(bare);
    parts.push(`r.client_id = ANY(${p}::text[])`, `r.subject = ANY(${p}::text[])`);
  }
  return or(parts);
}

/** A bare value is the recording instance (source); the MediLens backend's events have none. */
function sourcePredicate(params: SqlParams, refs: readonly SearchReference[]): string {
  const values = unique(refs.filter((r) => r.bare).map((r) => r.id));
  const parts: string[] = [];
  if (values.length) parts.push(`r.source = ANY(${params.add(values)}::text[])`);
  if (values.includes(MEDILENS_BACKEND)) parts.push('r.source IS NULL');
  return or(parts);
}

/** The subtype as toAuditEvent codes it: restful-interaction for rest, DCM Login, else the MediLens code. */
function subtypePredicate(params: SqlParams, token: Token, medilensSystem: string): string {
  const parts: string[] = [];
  const { system, code } = token;
  const restful = code === null || RESTFUL_INTERACTIONS.includes(code);
  if ((system === undefined || system === RESTFUL_INTERACTION) && restful) {
    parts.push(`r.event_type = 'rest' AND r.subtype = ${code === null ? `ANY(${params.add(RESTFUL_INTERACTIONS)}::text[])` : params.add(code)}`);
  }
  if (tokenMatches(token, [LOGIN_SUBTYPE])) parts.push(`r.event_type = 'login'`);
  if (system === undefined || system === medilensSystem) {
    if (code === null) parts.push(`${BACKEND} OR (r.event_type = 'rest' AND r.subtype <> ALL(${params.add(RESTFUL_INTERACTIONS)}::text[]))`);
    else {
      parts.push(`${BACKEND} AND r.event_type = ${params.add(code)}`);
      if (!restful) parts.push(`r.event_type = 'rest' AND r.subtype = ${params.add(code)}`);
    }
  }
  return or(parts);
}

/**
 * Events naming any of these patients, through the audit_event_patients index table: `patients && $1`
 * is not leakproof, so under row-level security it cannot use an index and every partition is read. An
 * IN over the index table becomes a join on the event id (uuid equality is leakproof).
 */
const namesPatients = (ids: string): string =>
  `r.id IN (SELECT p.event_id FROM audit_event_patients p WHERE p.patient_id = ANY(${ids}::uuid[]))`;
