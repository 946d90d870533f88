import type { Extension, HumanName, Identifier, Patient } from 'fhir/r4';
import { medilensSystems } from './codes';
import { extensionUrl, versionMeta, type MappingContext, type ViewRow } from './context';

/** An identifier a hospital pushed (patient_identifiers): system + value and the rest of its Identifier. */
export type PushedIdentifier = Identifier & { system: string; value: string };

/** One row of fhir_patient: users joined to user_profiles and the pushed identifiers. */
export interface PatientRow extends ViewRow {
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  /** YYYY-MM-DD (selected as text: a DATE is a day, not an instant). */
  birth_date: string | null;
  gender: string | null;
  is_active: boolean | null;
  language: string | null;
  ethnicity: string | null;
  fitzpatrick_type: number | null;
  /** In the order the hospital sent them; NULL when there are none. */
  identifiers: PushedIdentifier[] | null;
}

const US_CORE_ETHNICITY = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity';

export function toPatient(row: PatientRow, ctx: MappingContext): Patient {
  const patient: Patient = {
    resourceType: 'Patient',
    id: row.id,
    meta: versionMeta(row),
    identifier: [
      { use: 'secondary', system: medilensSystems(ctx).userId, value: row.id },
      // details hold the rest of the pushed Identifier (use, type, period, assigner) as the hospital sent it.
      ...(row.identifiers ?? []).map(({ system, value, ...details }): Identifier => ({ ...details, system, value })),
    ],
    active: row.is_active !== false && row.deleted_at === null,
  };
  const extension: Extension[] = [];
  if (row.ethnicity) {
    // US Core requires the text sub-extension; MediLens keeps only text, so no OMB coding is invented.
    extension.push({ url: US_CORE_ETHNICITY, extension: [{ url: 'text', valueString: row.ethnicity }] });
  }
  if (row.fitzpatrick_type !== null) {
    extension.push({ url: extensionUrl(ctx, 'fitzpatrick-skin-type'), valueInteger: row.fitzpatrick_type });
  }
  if (extension.length) patient.extension = extension;
  const name = officialName(row.first_name, row.last_name);
  if (name) patient.name = name;
  if (row.email) patient.telecom = [{ system: 'email', value: row.email }];
  patient.gender = administrativeGender(row.gender);
  if (row.birth_date) patient.birthDate = row.birth_date;
  if (row.organization_id) patient.managingOrganization = { reference: `Organization/${row.organization_id}` };
  if (row.language) patient.communication = [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: row.language }] } }];
  return patient;
}

/** users.first_name/last_name as the official name (Patient and Practitioner); none when both are empty. */
export function officialName(first: string | null, last: string | null): HumanName[] | undefined {
  if (!first && !last) return undefined;
  return [{ use: 'official', ...(last ? { family: last } : {}), ...(first ? { given: [first] } : {}) }];
}

/** MediLens stores free text; FHIR has four codes. */
export function administrativeGender(value: string | null): Patient['gender'] {
  switch (value?.trim().toLowerCase()) {
    case 'male':
    case 'm':
      return 'male';
    case 'female':
    case 'f':
      return 'female';
    case 'other':
    case 'non-binary':
    case 'nonbinary':
      return 'other';
    default:
      return 'unknown';
  }
}
