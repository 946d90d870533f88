import type { Practitioner } from 'fhir/r4';
import { medilensSystems } from './codes';
import { versionMeta, type MappingContext, type ViewRow } from './context';
import { administrativeGender, officialName } from './patient';

/** One row of fhir_practitioner: a user holding the clinician role. */
export interface PractitionerRow extends ViewRow {
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  gender: string | null;
  is_active: boolean | null;
}

/**
 * A clinician. The identifier is the MediLens user id in the same system as Patient's: a clinician who is
 * also a patient is one user, and an EHR matching on it should see that.
 */
export function toPractitioner(row: PractitionerRow, ctx: MappingContext): Practitioner {
  const practitioner: Practitioner = {
    resourceType: 'Practitioner',
    id: row.id,
    meta: versionMeta(row),
    identifier: [{ use: 'secondary', system: medilensSystems(ctx).userId, value: row.id }],
    active: row.is_active !== false && row.deleted_at === null,
  };
  const name = officialName(row.first_name, row.last_name);
  if (name) practitioner.name = name;
  if (row.email) practitioner.telecom = [{ system: 'email', value: row.email, use: 'work' }];
  practitioner.gender = administrativeGender(row.gender);
  return practitioner;
}
