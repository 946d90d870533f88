import type { OperationOutcome, Patient } from 'fhir/r4';
import { dbIdentity } from '../../auth/access';
import { factsOf } from '../../audit/facts';
import type { AuditedWrite } from '../../audit/trail';
import { withDbContext } from '../../db/context';
import type { PatientRow } from '../../../mappings/patient';
import type { ResourceDefinition } from '../../search/definition';
import { clientErrorOf, isUniqueViolation, PATIENT_REFUSALS } from '../../write/database-errors';
import { atEntry } from '../../write/bundle-entries';
import { IdentifierTaken } from '../../write/patient-rows';
import {
  conditionalUpdatePatient,
  createPatient,
  deletePatient,
  patchPatient,
  updatePatient,
  type WriteScope,
  type Written,
} from '../../write/patients';
import type { FhirDeps, FhirRequest, FhirResponse, Handler } from '../interaction';
import { badRequest, conflict, operationOutcome } from '../outcomes';
import { identifierCriteria, ifMatchVersion, returnPreference } from '../preconditions';
import { resourceHeaders } from './headers';

/** How many times a conditional write that lost an identifier race is re-run (and then finds the winner). */
const CONDITIONAL_ATTEMPTS = 3;

/**
 * Runs one write in its own transaction as the caller. A conditional write that lost the race for an
 * identifier is re-run from the start, and its match step then finds the winner; an unconditional one
 * is a 409. Database refusals become 4xx (database-errors.ts), never a 500.
 *
 * The AuditEvents `audited` names are stored in the same transaction, last (the chain head it locks is
 * then held only until the commit): a write never lands without its event. A failed write is audited
 * as a failure by the request's audit once the error has become its response.
 */
export async function inWriteTransaction<T>(
  req: FhirRequest,
  deps: FhirDeps,
  def: ResourceDefinition<PatientRow>,
  conditional: boolean,
  work: (scope: WriteScope) => Promise<T>,
  audited: (result: T) => readonly AuditedWrite[],
): Promise<T> {
  const access = req.access!;
  for (let attempt = 1; ; attempt++) {
    try {
      let writes: readonly AuditedWrite[] = [];
      const result = await withDbContext(deps.db.dataSource, dbIdentity(access), async (tx) => {
        const done = await work({ tx, access, def, ctx: { canonicalBase: deps.config.canonicalBase }, validator: deps.validator });
        writes = audited(done);
        await deps.audit.writeWith(tx, writes);
        return done;
      });
      deps.audit.markWritten(writes);
      return result;
    } catch (err) {
      // The loser of a race may also trip over another unique value the winner took (users.email).
      if (conditional && attempt < CONDITIONAL_ATTEMPTS && (err instanceof IdentifierTaken || isUniqueViolation(err))) continue;
      if (err instanceof IdentifierTaken) {
        const taken = conflict(`Patient.identifier ${err.identifiers.map((i) => `${i.system}|${i.value}`).join(', ')} already belongs to another Patient of the organization`, ['Patient.identifier']);
        throw err.entry ? atEntry(taken, err.entry) : taken;
      }
      throw clientErrorOf(err, PATIENT_REFUSALS);
    }
  }
}

/** The answer to a create or update, shaped by Prefer: return=. */
export function writtenResponse(req: FhirRequest, deps: FhirDeps, written: Written, action: 'created' | 'updated' | 'matched'): FhirResponse {
  const { resource } = written;
  const location = `${deps.config.publicBaseUrl}/fhir/Patient/${resource.id}/_history/${resource.meta!.versionId}`;
  const headers = { ...resourceHeaders(resource), [written.status === 201 ? 'Location' : 'Content-Location']: location };
  // A conditional create matched a Patient this token may not read: which one, but nothing of it.
  if (written.unreadable) return { status: written.status, body: informational(`An existing Patient/${resource.id} matches If-None-Exist; nothing was created`), headers };
  switch (returnPreference(req.headers)) {
    case 'minimal':
      return { status: written.status, body: undefined, headers };
    case 'OperationOutcome':
      return { status: written.status, body: informational(`Patient/${resource.id} ${action}, version ${resource.meta!.versionId}`), headers };
    default:
      return { status: written.status, body: resource, headers };
  }
}

/** The event of a Patient write: the Patient (and version) written or matched. */
const auditWritten =
  (req: FhirRequest) =>
  (written: Written): AuditedWrite[] => [{ scope: req.audit, status: written.status, facts: factsOf([written.resource], { entities: true }) }];

function informational(text: string): OperationOutcome {
  return operationOutcome('information', 'informational', text);
}

export function createHandler(def: ResourceDefinition<PatientRow>): Handler {
  return async (req, deps) => {
    const raw = req.headers['if-none-exist'];
    const ifNoneExist = raw === undefined ? undefined : identifierCriteria(String(raw), 'If-None-Exist');
    const written = await inWriteTransaction(req, deps, def, ifNoneExist !== undefined, (scope) => createPatient(scope, req.body, { ifNoneExist }), auditWritten(req));
    return writtenResponse(req, deps, written, written.status === 201 ? 'created' : 'matched');
  };
}

export function updateHandler(def: ResourceDefinition<PatientRow>): Handler {
  return async (req, deps) => {
    const ifMatch = ifMatchVersion(req.headers);
    // PUT is idempotent: a concurrent PUT that created this id first makes the retry an update.
    const written = await inWriteTransaction(req, deps, def, true, (scope) => updatePatient(scope, req.params.id, req.body, { ifMatch }), auditWritten(req));
    return writtenResponse(req, deps, written, written.status === 201 ? 'created' : 'updated');
  };
}

/** PUT Patient?identifier=system|value */
export function conditionalUpdateHandler(def: ResourceDefinition<PatientRow>): Handler {
  return async (req, deps) => {
    const ifMatch = ifMatchVersion(req.headers);
    const query = Object.entries(req.query).filter(([name]) => !['_format', '_pretty'].includes(name));
    if (query.length === 0) throw badRequest('PUT Patient needs an id (Patient/[id]) or search criteria (Patient?identifier=system|value)');
    const criteria = identifierCriteria(new URLSearchParams(query.flatMap(([n, vs]) => vs.map((v): [string, string] => [n, v]))).toString(), 'A conditional update');
    const written = await inWriteTransaction(req, deps, def, true, (scope) => conditionalUpdatePatient(scope, criteria, req.body, { ifMatch }), auditWritten(req));
    return writtenResponse(req, deps, written, written.status === 201 ? 'created' : 'updated');
  };
}

export function patchHandler(def: ResourceDefinition<PatientRow>): Handler {
  return async (req, deps) => {
    const ifMatch = ifMatchVersion(req.headers);
    const written = await inWriteTransaction(req, deps, def, false, (scope) => patchPatient(scope, req.params.id, req.body, { ifMatch }), auditWritten(req));
    return writtenResponse(req, deps, written, 'updated');
  };
}

export function deleteHandler(def: ResourceDefinition<PatientRow>): Handler {
  return async (req, deps) => {
    const { deleted } = await inWriteTransaction(req, deps, def, false, (scope) => deletePatient(scope, req.params.id), () => [
      { scope: req.audit, status: 200, facts: { entities: [`Patient/${req.params.id}`], patients: [req.params.id] } },
    ]);
    return {
      status: 200,
      body: informational(deleted ? `Patient/${req.params.id} deleted; its history is kept` : `Patient/${req.params.id} was already deleted`),
    };
  };
}

export type { Patient };
