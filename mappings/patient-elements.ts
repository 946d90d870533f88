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
  /**
   * The element as written, with the parts the columns hold replaced by the columns' values: the rest
   * of what the hospital sent (other names, phones, other extensions) survives a direct column change.
   * Without it the element is built from the columns alone.
   */
  rebuild?(written: unknown, row: PatientColumns, ctx: MappingContext): unknown;
}

/** Names that are not the patient's name now. */
const FORMER = new Set(['old', 'maiden', 'anonymous']);

/** The name the columns hold: official, else usual, else the first current one, else the first. */
export function primaryName(names: readonly HumanName[] | undefined): HumanName | undefined {
  if (!names?.length) return undefined;
  return (
    names.find((n) => n.use === 'official') ??
    names.find((n) => n.use === 'usual') ??
    names.find((n) => !FORMER.has(n.use ?? '') && !n.period?.end) ??
    names[0]
  );
}

/** The columns' name in place of the primary name's given and family; every other name and part as written. */
function rebuildName(written: unknown, row: PatientColumns): HumanName[] | undefined {
  const names = (written as HumanName[] | undefined) ?? [];
  const primary = primaryName(names);
  if (!primary) return officialName(row.first_name, row.last_name);
  const { given: _given, family: _family, ...rest } = primary;
  const replaced: HumanName = { ...rest, ...(row.last_name ? { family: row.last_name } : {}), ...(row.first_name ? { given: [row.first_name] } : {}) };
  return names.map((n) => (n === primary ? replaced : n));
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
    rebuild: (written, row) => rebuildName(written, row),
  },
  {
    // users.email is the MediLens sign-in address (unique across every organization): a hospital's
    // contact points are kept as sent and never become, or change, anyone's sign-in.
    element: 'telecom',
    columns: () => ({}),
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
    // The column's language in the preferred (else first) communication; the other languages as written.
    rebuild: (written, row) => {
      const communication = [...((written as Patient['communication']) ?? [])];
      if (!communication.length) return row.language ? [{ language: { coding: [{ system: BCP47, code: row.language }] } }] : undefined;
      const at = Math.max(0, communication.findIndex((c) => c.preferred));
      if (!row.language) {
        communication.splice(at, 1);
        return communication.length ? communication : undefined;
      }
      const chosen = communication[at];
      const others = (chosen.language.coding ?? []).filter((c) => c.system !== BCP47);
      communication[at] = { ...chosen, language: { ...chosen.language, coding: [{ system: BCP47, code: row.language }, ...others] } };
      return communication;
    },
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
    // The extensions no column holds stay as written; ethnicity and skin type come from the columns.
    rebuild: (written, row, ctx) => {
      const backed = new Set([US_CORE_ETHNICITY, extensionUrl(ctx, 'fitzpatrick-skin-type')]);
      const others = ((written as Extension[] | undefined) ?? []).filter((e) => !backed.has(e.url));
      const extension = [...others, ...((BACKED_ELEMENTS.find((b) => b.element === 'extension')!.build(row, ctx, false) as Extension[] | undefined) ?? [])];
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
