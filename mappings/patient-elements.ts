import type { Extension, HumanName, Patient, Reference } from 'fhir/r4';
import { extensionUrl, type MappingContext } from './context';

/**
 * The MediLens columns a Patient is stored in, by name as fhir_patient selects them. A hospital's
 * Patient is split into these columns plus the elements kept as sent (users.fhir_kept).
 */
export interface PatientColumns {
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  birth_date: string | null;
  gender: string | null;
  is_active: boolean;
  organization_id: string | null;
  language: string | null;
  ethnicity: string | null;
  fitzpatrick_type: number | null;
}

export const US_CORE_ETHNICITY = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity';
export const BCP47 = 'urn:ietf:bcp:47';
const FULL_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ORGANIZATION_REFERENCE = /(?:^|\/)Organization\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * One element that MediLens columns back: which columns it fills when written, and how it is built
 * from them when they no longer match what was written (the MediLens backend changed them directly:
 * the columns are the truth then).
 */
interface BackedElement {
  readonly element: keyof Patient;
  columns(value: unknown, ctx: MappingContext): Partial<PatientColumns>;
  build(row: PatientColumns, ctx: MappingContext, deleted: boolean): unknown;
}

/** The name the columns hold: official, else usual, else the first. */
export function primaryName(names: readonly HumanName[] | undefined): HumanName | undefined {
  if (!names?.length) return undefined;
  return names.find((n) => n.use === 'official') ?? names.find((n) => n.use === 'usual') ?? names[0];
}

export function primaryLanguage(communication: Patient['communication']): string | null {
  const chosen = communication?.find((c) => c.preferred) ?? communication?.[0];
  return chosen?.language.coding?.find((c) => c.system === BCP47)?.code ?? null;
}

export const BACKED_ELEMENTS: readonly BackedElement[] = [
  {
    element: 'name',
    columns: (value) => {
      const name = primaryName(value as HumanName[] | undefined);
      return { first_name: name?.given?.length ? name.given.join(' ') : null, last_name: name?.family ?? null };
    },
    build: (row) => officialName(row.first_name, row.last_name),
  },
  {
    element: 'telecom',
    columns: (value) => ({ email: (value as Patient['telecom'])?.find((t) => t.system === 'email')?.value ?? null }),
    build: (row) => (row.email ? [{ system: 'email', value: row.email }] : undefined),
  },
  {
    element: 'gender',
    columns: (value) => ({ gender: (value as string | undefined) ?? null }),
    build: (row) => administrativeGender(row.gender),
  },
  {
    element: 'birthDate',
    // A partial date (1970, 1970-05) has no DATE column value; it is kept as sent.
    columns: (value) => ({ birth_date: typeof value === 'string' && FULL_DATE.test(value) ? value : null }),
    build: (row) => row.birth_date ?? undefined,
  },
  {
    element: 'active',
    columns: (value) => ({ is_active: value !== false }),
    build: (row, _ctx, deleted) => row.is_active !== false && !deleted,
  },
  {
    element: 'managingOrganization',
    columns: (value) => ({ organization_id: ORGANIZATION_REFERENCE.exec((value as Reference | undefined)?.reference ?? '')?.[1]?.toLowerCase() ?? null }),
    build: (row) => (row.organization_id ? { reference: `Organization/${row.organization_id}` } : undefined),
  },
  {
    element: 'communication',
    columns: (value) => ({ language: primaryLanguage(value as Patient['communication']) }),
    build: (row) => (row.language ? [{ language: { coding: [{ system: BCP47, code: row.language }] } }] : undefined),
  },
  {
    element: 'extension',
    columns: (value, ctx) => {
      const extensions = (value as Extension[] | undefined) ?? [];
      const ethnicity = extensions.find((e) => e.url === US_CORE_ETHNICITY)?.extension?.find((e) => e.url === 'text')?.valueString;
      const fitzpatrick = extensions.find((e) => e.url === extensionUrl(ctx, 'fitzpatrick-skin-type'))?.valueInteger;
      return { ethnicity: ethnicity ?? null, fitzpatrick_type: fitzpatrick ?? null };
    },
    build: (row, ctx) => {
      const extension: Extension[] = [];
      // US Core requires the text sub-extension; MediLens keeps only text, so no OMB coding is invented.
      if (row.ethnicity) extension.push({ url: US_CORE_ETHNICITY, extension: [{ url: 'text', valueString: row.ethnicity }] });
      if (row.fitzpatrick_type !== null) extension.push({ url: extensionUrl(ctx, 'fitzpatrick-skin-type'), valueInteger: row.fitzpatrick_type });
      return extension.length ? extension : undefined;
    },
  },
];

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
