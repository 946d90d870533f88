import type { Extension, Patient } from 'fhir/r4';
import { medilensSystems } from './codes';
import { iso, type MappingContext } from './context';

/** users joined to user_profiles, as the store selects them. */
export interface PatientRow {
  id: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  /** YYYY-MM-DD (selected as text: a DATE is a day, not an instant). */
  birth_date: string | null;
  gender: string | null;
  organization_id: string | null;
  is_active: boolean | null;
  deleted_at: Date | string | null;
  last_updated: Date | string;
  language: string | null;
  ethnicity: string | null;
  fitzpatrick_type: number | null;
}

const US_CORE_ETHNICITY = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity';

export function toPatient(row: PatientRow, ctx: MappingContext): Patient {
  const patient: Patient = {
    resourceType: 'Patient',
    id: row.id,
    meta: { lastUpdated: iso(row.last_updated) },
    identifier: [{ use: 'secondary', system: medilensSystems(ctx).userId, value: row.id }],
    active: row.is_active !== false && row.deleted_at === null,
  };
  const extension: Extension[] = [];
  if (row.ethnicity) {
    // US Core requires the text sub-extension; MediLens keeps only text, so no OMB coding is invented.
    extension.push({ url: US_CORE_ETHNICITY, extension: [{ url: 'text', valueString: row.ethnicity }] });
  }
  if (row.fitzpatrick_type !== null) {
    extension.push({ url: `${ctx.canonicalBase}/StructureDefinition/fitzpatrick-skin-type`, valueInteger: row.fitzpatrick_type });
  }
  if (extension.length) patient.extension = extension;
  if (row.first_name || row.last_name) {
    patient.name = [
      {
        use: 'official',
        ...(row.last_name ? { family: row.last_name } : {}),
        ...(row.first_name ? { given: [row.first_name] } : {}),
      },
    ];
  }
  if (row.email) patient.telecom = [{ system: 'email', value: row.email }];
  patient.gender = administrativeGender(row.gender);
  if (row.birth_date) patient.birthDate = row.birth_date;
  if (row.organization_id) patient.managingOrganization = { reference: `Organization/${row.organization_id}` };
  if (row.language) patient.communication = [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: row.language }] } }];
  return patient;
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
