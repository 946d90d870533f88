import type { DbIdentity, DbRole } from '../db/context';
import { AccessDenied } from './errors';
import { INTERACTION_NAMES, scopeReaches, type Interaction, type ResourceScope, type ScopeContext, type ScopeFilter } from './scopes';

/**
 * Who is calling and what the token lets them reach, derived once per request from the verified token
 * and handed explicitly to every handler. Nothing about access is decided anywhere else.
 */
export interface AccessContext {
  /** A backend client of our own token endpoint, or a user signed in at the external identity provider. */
  readonly kind: 'client' | 'user';
  /** The OAuth client: our client_id, or the external token's client_id/azp. */
  readonly clientId: string | null;
  /** The token's sub. */
  readonly subject: string;
  /** The token's fhirUser (e.g. Practitioner/<id>). */
  readonly fhirUser: string | null;
  /** The usable resource scopes (system/ for clients; patient/ and user/ for users). */
  readonly scopes: readonly ResourceScope[];
  /** The MediLens user behind a user token. */
  readonly userId: string | null;
  readonly role: DbRole;
  /** The tenant: rows of other organizations are out of reach unless allOrganizations. */
  readonly organizationId: string | null;
  readonly allOrganizations: boolean;
  /** SMART patient context: what patient/ scopes are confined to. */
  readonly patientId: string | null;
  /** A patient user's own id: they never reach beyond their own compartment, whatever the scopes say. */
  readonly compartment: string | null;
  /** False for researchers: no identifiable data (Patient, Practitioner) at all. */
  readonly identifiable: boolean;
}

/** One way a request may reach rows: a scope's patient confinement and its granular filters. */
export interface AccessAlternative {
  readonly patientId: string | null;
  readonly filters: readonly ScopeFilter[];
}

/**
 * Which rows of one resource type a request may touch for one interaction, ready to become WHERE
 * clauses: (tenant) AND (compartment) AND (alternative 1 OR alternative 2 ...).
 */
export interface RowAccess {
  readonly resourceType: string;
  /** null with allOrganizations false and no compartment: nothing at all. */
  readonly organizationId: string | null;
  readonly allOrganizations: boolean;
  readonly compartment: string | null;
  readonly alternatives: readonly AccessAlternative[];
}

/** Resource types that identify a person directly. */
const IDENTIFIABLE_TYPES = new Set(['Patient', 'Practitioner']);

/**
 * The audit log is for operators only: admins (users holding the admin role) and backend clients, the
 * roles the database's audit_events policy admits (app_is_operator). They need a scope naming
 * AuditEvent (user/ or system/; a wildcard does not reach it, see NAMED_SCOPE_ONLY); a patient/ scope
 * never does, whoever holds it.
 */
const OPERATOR_ONLY_TYPES = new Set(['AuditEvent']);
const OPERATOR_ROLES: ReadonlySet<DbRole> = new Set(['admin', 'system']);

/**
 * The row access for `interaction` on `resourceType`, or AccessDenied naming the scope that would have
 * allowed it. A scope that cannot apply (patient/ without a patient context) allows nothing.
 */
export function rowAccess(access: AccessContext, resourceType: string, interaction: Interaction): RowAccess {
  if (!access.identifiable && IDENTIFIABLE_TYPES.has(resourceType)) {
    throw new AccessDenied(`The ${access.role} role has no access to identifiable data such as ${resourceType}`, null);
  }
  const operatorOnly = OPERATOR_ONLY_TYPES.has(resourceType);
  if (operatorOnly && !OPERATOR_ROLES.has(access.role)) {
    throw new AccessDenied(
      `${resourceType} (the audit log) is for operators: admins with scope user/${resourceType}.rs or backend clients with ` +
        `system/${resourceType}.rs; the ${access.role} role has no access to it whatever the token's scopes`,
      null,
    );
  }
  const alternatives: AccessAlternative[] = [];
  for (const scope of access.scopes) {
    if (!scopeReaches(scope.resourceType, resourceType)) continue;
    if (operatorOnly && scope.context === 'patient') continue;
    if (!scope.interactions.includes(interaction)) continue;
    if (scope.context === 'patient') {
      const patientId = access.patientId ?? access.compartment;
      if (patientId) alternatives.push({ patientId, filters: scope.filters });
    } else {
      alternatives.push({ patientId: null, filters: scope.filters });
    }
  }
  if (alternatives.length === 0) {
    const needed = neededScopes(access, resourceType, interaction);
    throw new AccessDenied(
      `The token does not permit ${INTERACTION_NAMES[interaction]} of ${resourceType}: it needs scope ${needed.map((s) => `${s.v2} (v1: ${s.v1})`).join(' or ')}`,
      needed.map((s) => s.v2).join(' '),
    );
  }
  return {
    resourceType,
    organizationId: access.organizationId,
    allOrganizations: access.allOrganizations,
    compartment: access.compartment,
    alternatives,
  };
}

function neededScopes(access: AccessContext, resourceType: string, interaction: Interaction): { v2: string; v1: string }[] {
  const contexts: ScopeContext[] =
    access.kind === 'client' ? ['system'] : (access.patientId || access.compartment) && !OPERATOR_ONLY_TYPES.has(resourceType) ? ['patient', 'user'] : ['user'];
  const v1 = interaction === 'r' || interaction === 's' ? 'read' : 'write';
  return contexts.map((c) => ({ v2: `${c}/${resourceType}.${interaction}`, v1: `${c}/${resourceType}.${v1}` }));
}

/**
 * The identity Postgres row-level security sees for this request: the same tenant and compartment,
 * enforced a second time by the database. A patient context confines RLS only when nothing but
 * patient/ scopes was granted (a clinician's user/ scopes reach the whole organization).
 */
export function dbIdentity(access: AccessContext): DbIdentity {
  const onlyPatientScopes = access.scopes.length > 0 && access.scopes.every((s) => s.context === 'patient');
  return {
    userId: access.userId,
    organizationId: access.organizationId,
    role: access.role,
    patientId: access.compartment ?? (onlyPatientScopes ? access.patientId : null),
    allOrganizations: access.allOrganizations,
  };
}
