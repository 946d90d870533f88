import type { EntityManager } from 'typeorm';
import type { RowAccess } from '../auth/access';
import { UUID } from '../db/context';
import { unprocessable } from '../fhir/outcomes';
import type { AssessmentOwner, PatientReference } from '../../mappings/pipeline-result';

/**
 * The patient a result document is about, looked up within the caller's reach: the caller's
 * organization (any, for a client bound to none), the patient compartment of a patient user, and the
 * patient of patient/ scopes when those are all that allow the write. A patient that does not exist,
 * is deleted, or lies outside that reach is one answer, 422 naming `patient` (no existence leaks).
 *
 * `reach` is the caller's row access for creating the report (rowAccess(access, 'DiagnosticReport', 'c')).
 * The query runs in the caller's transaction, so row-level security bounds it a second time.
 */
export async function resolvePatient(tx: EntityManager, ref: PatientReference, reach: RowAccess): Promise<AssessmentOwner> {
  const values: unknown[] = [];
  const bind = (value: unknown) => `$${values.push(value)}`;
  const conditions = ['p.deleted_at IS NULL'];
  if (reach.compartment !== null) conditions.push(`p.id = ${bind(reach.compartment)}::uuid`);
  else if (!reach.allOrganizations) {
    conditions.push(reach.organizationId === null ? 'FALSE' : `p.organization_id = ${bind(reach.organizationId)}::uuid`);
  }
  // Confined only when every scope that allows the write is a patient/ scope.
  const confined = reach.alternatives.every((alt) => alt.patientId !== null);
  if (confined) conditions.push(`p.id = ANY(${bind(reach.alternatives.map((alt) => alt.patientId))}::uuid[])`);

  let rows: { id: string; organization_id: string | null }[];
  let expression: string;
  let named: string;
  if ('id' in ref) {
    expression = 'patient.id';
    named = `Patient/${ref.id}`;
    if (!UUID.test(ref.id)) throw notResolved(named, expression);
    rows = await tx.query(`SELECT p.id, p.organization_id FROM fhir_patient p WHERE p.id = ${bind(ref.id)}::uuid AND ${conditions.join(' AND ')}`, values);
  } else {
    expression = 'patient.identifier';
    named = `the Patient with identifier ${ref.identifier.system}|${ref.identifier.value}`;
    rows = await tx.query(
      `SELECT DISTINCT p.id, p.organization_id
         FROM patient_identifiers pi JOIN fhir_patient p ON p.id = pi.user_id
        WHERE pi.system = ${bind(ref.identifier.system)} AND pi.value = ${bind(ref.identifier.value)} AND ${conditions.join(' AND ')}
        LIMIT 2`,
      values,
    );
    if (rows.length > 1) {
      const diagnostics = `The identifier ${ref.identifier.system}|${ref.identifier.value} names more than one patient within reach; name the patient by id`;
      throw unprocessable([{ diagnostics, expression: [expression] }]);
    }
  }
  const [row] = rows;
  if (!row) throw notResolved(named, expression);
  // The caller's organization, which the patient belongs to; the patient's own when the caller spans
  // all organizations or is the patient.
  const organizationId = reach.allOrganizations || reach.compartment !== null ? row.organization_id : reach.organizationId;
  return { patientId: row.id, organizationId };
}

function notResolved(named: string, expression: string) {
  return unprocessable([{ diagnostics: `${named} is not a patient this token can write results for`, expression: [expression] }]);
}
