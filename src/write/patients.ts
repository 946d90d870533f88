import crypto from 'node:crypto';
import type { Patient } from 'fhir/r4';
import type { Operation } from 'fast-json-patch';
import type { EntityManager } from 'typeorm';
import type { MappingContext } from '../../mappings/context';
import { fromPatient, type PatientRow, type PatientWrite } from '../../mappings/patient';
import { rowAccess, type AccessContext, type RowAccess } from '../auth/access';
import { AccessDenied } from '../auth/errors';
import { UUID } from '../db/context';
import { badRequest, conflict, forbidden, gone, invalidResource, notFound, preconditionFailed, unprocessable } from '../fhir/outcomes';
import type { ResourceDefinition } from '../search/definition';
import { readRow, rowsWhere } from '../search/query';
import type { FhirValidator } from '../validation/fhir-validator';
import { applyJsonPatch } from './json-patch';
import { deletePatient as deleteRows, insertPatient, lockPatient, updatePatient as updateRows, type LockedPatient } from './patient-rows';

/** What a write needs: its transaction, the caller, and how Patients are read and checked. */
export interface WriteScope {
  readonly tx: EntityManager;
  readonly access: AccessContext;
  readonly def: ResourceDefinition<PatientRow>;
  readonly ctx: MappingContext;
  readonly validator: FhirValidator;
}

/** A Patient as written, read back in the same transaction. */
export interface Written {
  readonly status: 200 | 201;
  readonly resource: Patient;
  /** A conditional create matched a Patient the token may not read: say which, show nothing of it. */
  readonly unreadable?: boolean;
}

export interface Identifier {
  readonly system: string;
  readonly value: string;
}

/**
 * POST Patient (and the create half of update-as-create and conditional update). With `ifNoneExist`,
 * an existing Patient holding that identifier is the answer (200) and nothing is written.
 */
export async function createPatient(scope: WriteScope, body: unknown, opts: { ifNoneExist?: Identifier; id?: string } = {}): Promise<Written> {
  const reach = createReach(scope.access);
  const write = checkPatient(scope, body, 'create');
  if (opts.ifNoneExist) {
    const { system, value } = opts.ifNoneExist;
    // Only the unique key makes the check race-free, and it only guards the Patient's own identifiers.
    if (!write.identifiers.some((i) => i.system === system && i.value === value)) {
      throw badRequest('If-None-Exist must name one of the Patient\'s own identifiers (system|value)', ['Patient.identifier']);
    }
    const matches = await patientsWithIdentifier(scope.tx, scope.def, reach, opts.ifNoneExist);
    if (matches.length > 1) throw preconditionFailed(`If-None-Exist identifier=${system}|${value} matches more than one Patient`);
    if (matches.length === 1) {
      return { status: 200, resource: scope.def.toResource(matches[0], scope.ctx) as Patient, ...(mayRead(scope.access) ? {} : { unreadable: true }) };
    }
  }
  const organizationId = organizationFor(scope.access, write);
  const id = opts.id ?? crypto.randomUUID();
  await insertPatient(scope.tx, id, organizationId, write);
  return { status: 201, resource: await readBack(scope, reach, id) };
}

/** PUT Patient/[id]: update, or create with that id when it is unknown and the caller may create. */
export async function updatePatient(scope: WriteScope, id: string, body: unknown, opts: { ifMatch?: number } = {}): Promise<Written> {
  const resource = body as Partial<Patient> | null;
  if (resource && typeof resource === 'object' && resource.id !== id) {
    throw badRequest(
      resource.id === undefined ? 'The Patient in a PUT must carry its id' : `The Patient's id ${JSON.stringify(resource.id)} does not match the URL's ${id}`,
      ['Patient.id'],
    );
  }
  if (!UUID.test(id)) throw badRequest(`Patient ids on this server are UUIDs; ${JSON.stringify(id)} can be neither updated nor created`, ['Patient.id']);
  const reach = rowAccess(scope.access, 'Patient', 'u');
  const write = checkPatient(scope, body, 'update');
  const locked = await lockPatient(scope.tx, id);
  if (!locked) {
    if (opts.ifMatch !== undefined) throw preconditionFailed(`Patient/${id} does not exist, so it has no version ${opts.ifMatch}`);
    return createPatient(scope, body, { id });
  }
  const row = await currentRow(scope, reach, id, locked.version, opts.ifMatch, { allowDeleted: true });
  guardUpdate(scope, reach, locked, row, write);
  await updateRows(scope.tx, id, locked.organizationId, write);
  return { status: 200, resource: await readBack(scope, reach, id) };
}

/** PUT Patient?identifier=system|value: update the one match, create when none, 412 when several. */
export async function conditionalUpdatePatient(scope: WriteScope, criteria: Identifier, body: unknown, opts: { ifMatch?: number } = {}): Promise<Written> {
  const reach = rowAccess(scope.access, 'Patient', 'u');
  const matches = await patientsWithIdentifier(scope.tx, scope.def, reach, criteria);
  if (matches.length > 1) throw preconditionFailed(`identifier=${criteria.system}|${criteria.value} matches more than one Patient`);
  const bodyId = (body as Partial<Patient> | null)?.id;
  if (matches.length === 1) {
    if (bodyId !== undefined && bodyId !== matches[0].id) {
      throw badRequest(`The Patient's id ${JSON.stringify(bodyId)} is not that of the matching Patient/${matches[0].id}`, ['Patient.id']);
    }
    return updatePatient(scope, matches[0].id, { ...(body as object), id: matches[0].id }, opts);
  }
  if (bodyId !== undefined && !UUID.test(String(bodyId))) throw badRequest('A Patient created by conditional update needs a UUID id, or none', ['Patient.id']);
  return createPatient(scope, body, { ifNoneExist: criteria, ...(bodyId !== undefined ? { id: String(bodyId) } : {}) });
}

/** PATCH Patient/[id] with a JSON Patch: applied to the current Patient, the result checked like a PUT. */
export async function patchPatient(scope: WriteScope, id: string, operations: unknown, opts: { ifMatch?: number } = {}): Promise<Written> {
  const reach = rowAccess(scope.access, 'Patient', 'u');
  const locked = UUID.test(id) ? await lockPatient(scope.tx, id) : null;
  if (!locked) throw notFound(`Patient/${id} is not known`);
  const row = await currentRow(scope, reach, id, locked.version, opts.ifMatch, { allowDeleted: false });
  const current = scope.def.toResource(row, scope.ctx) as Patient;
  const patched = applyJsonPatch(current, operations as Operation[]);
  if (patched.resourceType !== 'Patient' || patched.id !== id) {
    throw unprocessable([{ diagnostics: 'A patch may not change the resourceType or id', expression: ['Patient.id'] }]);
  }
  const write = checkPatient(scope, patched, 'patch');
  guardUpdate(scope, reach, locked, row, write);
  await updateRows(scope.tx, id, locked.organizationId, write);
  return { status: 200, resource: await readBack(scope, reach, id) };
}

/** DELETE Patient/[id]: soft delete; deleting a deleted Patient again changes nothing. */
export async function deletePatient(scope: WriteScope, id: string): Promise<{ deleted: boolean }> {
  const reach = rowAccess(scope.access, 'Patient', 'd');
  const locked = UUID.test(id) ? await lockPatient(scope.tx, id) : null;
  if (!locked) throw notFound(`Patient/${id} is not known`);
  const current = await readRow(scope.tx, scope.def, reach, id);
  if (!current) throw notFound(`Patient/${id} is not known`);
  if (current.deleted) return { deleted: false };
  if (locked.account) throw accountConflict(id, 'deleted');
  await deleteRows(scope.tx, id);
  return { deleted: true };
}

/**
 * Structure (the FHIR R4 JSON Schema) then MediLens's own rules. A body that is not a Patient is the
 * request's fault (400); a patch result that breaks the schema is the patch's (422).
 */
function checkPatient(scope: WriteScope, body: unknown, mode: 'create' | 'update' | 'patch'): PatientWrite {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The request body must be a Patient resource');
  const type = (body as { resourceType?: unknown }).resourceType;
  if (type !== 'Patient') {
    throw badRequest(`This endpoint takes a Patient, not ${type === undefined ? 'a JSON object without resourceType' : JSON.stringify(type)}`, ['Patient.resourceType']);
  }
  const structural = scope.validator.validate('Patient', body);
  if (structural.length) throw mode === 'patch' ? unprocessable(structural) : invalidResource(structural);
  const result = fromPatient(body as Patient, scope.ctx, tomorrow());
  if ('issues' in result) throw unprocessable(result.issues);
  return result.write;
}

/** A birth date "today" somewhere on Earth is not in the future. */
const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

/** Registering a patient is an organization's act: a scope confined to one patient cannot do it. */
function createReach(access: AccessContext): RowAccess {
  const reach = rowAccess(access, 'Patient', 'c');
  if (reach.alternatives.every((alt) => alt.patientId !== null)) {
    throw new AccessDenied('A patient-context scope cannot register new Patients; it needs user/Patient.c or system/Patient.c', null);
  }
  return reach;
}

/** The new patient's organization: the caller's, or for a client of all organizations, the one the Patient names. */
function organizationFor(access: AccessContext, write: PatientWrite): string {
  const named = write.columns.organization_id;
  if (access.organizationId !== null) {
    if (named !== null && named !== access.organizationId) {
      throw forbidden(`Writes are confined to the caller's organization: managingOrganization must be Organization/${access.organizationId} or absent`);
    }
    return access.organizationId;
  }
  if (!access.allOrganizations) throw forbidden('The token is bound to no organization, so it cannot register patients');
  if (named === null) {
    throw unprocessable([{ diagnostics: 'A client of all organizations must name the managingOrganization of a new Patient', expression: ['Patient.managingOrganization'] }]);
  }
  return named;
}

/**
 * What an update may not do, whatever its scopes allow: move the patient to another organization (only
 * MediLens moves patients), change the identifiers from a patient's own context (an MRN links the
 * hospital's record to this one: a patient must not take, drop or probe one), or close a MediLens
 * account (sign-in or staff role) by deactivating its patient record.
 */
function guardUpdate(scope: WriteScope, reach: RowAccess, locked: LockedPatient, row: PatientRow, write: PatientWrite): void {
  const named = write.columns.organization_id;
  if (named !== null && named !== locked.organizationId) {
    throw forbidden(`A Patient stays in its organization: managingOrganization must be Organization/${locked.organizationId} or absent`);
  }
  const patientContext = scope.access.compartment !== null || reach.alternatives.every((alt) => alt.patientId !== null);
  if (patientContext) {
    const key = (i: { system: string; value: string }) => `${i.system}|${i.value}`;
    const before = new Set((row.identifiers ?? []).map(key));
    const after = new Set(write.identifiers.map(key));
    if (before.size !== after.size || [...after].some((k) => !before.has(k))) {
      throw forbidden("A patient-context token cannot change a Patient's identifiers (they link it to the hospitals' records)");
    }
  }
  if (locked.account && locked.isActive && !write.columns.is_active) throw accountConflict(row.id, 'deactivated');
}

function accountConflict(id: string, what: string) {
  return conflict(`Patient/${id} is also a MediLens account (a sign-in or a staff role); it is ${what} in MediLens, not by a FHIR client`);
}

const mayRead = (access: AccessContext): boolean => {
  try {
    rowAccess(access, 'Patient', 'r');
    return true;
  } catch {
    return false;
  }
};

/** The locked Patient within reach, at the version the client expects. */
async function currentRow(
  scope: WriteScope,
  reach: RowAccess,
  id: string,
  version: number,
  ifMatch: number | undefined,
  opts: { allowDeleted: boolean },
): Promise<PatientRow> {
  const current = await readRow(scope.tx, scope.def, reach, id);
  if (!current) throw notFound(`Patient/${id} is not known`);
  if (current.deleted && !opts.allowDeleted) throw gone(`Patient/${id} has been deleted`);
  if (ifMatch !== undefined && ifMatch !== version) {
    throw preconditionFailed(`Patient/${id} is at version ${version}, not ${ifMatch}: read it again and reapply the change`);
  }
  return current.row;
}

/** After the write, the Patient must still be within what the token may write (tenant, compartment, granular filters). */
async function readBack(scope: WriteScope, reach: RowAccess, id: string): Promise<Patient> {
  const written = await readRow(scope.tx, scope.def, reach, id);
  if (!written) throw forbidden('The Patient as written would be outside what the token may write');
  return scope.def.toResource(written.row, scope.ctx) as Patient;
}

/**
 * Live Patients within reach holding an identifier (at most 2: enough to tell none, one, several).
 * Driven from the identifier's index (IN, not a correlated EXISTS the planner runs per visible user).
 */
export async function patientsWithIdentifier(
  tx: EntityManager,
  def: ResourceDefinition<PatientRow>,
  reach: RowAccess,
  { system, value }: Identifier,
): Promise<PatientRow[]> {
  return rowsWhere(
    tx,
    def,
    reach,
    (params) => `r.id IN (SELECT pi.user_id FROM patient_identifiers pi WHERE pi.value = ${params.add(value)} AND pi.system = ${params.add(system)})`,
    2,
  );
}
