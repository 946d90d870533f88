import type { Address, CodeableConcept, ContactPoint, Organization } from 'fhir/r4';
import { humanize, medilensSystems, ORGANIZATION_TYPE, ORGANIZATION_TYPES } from './codes';
import { versionMeta, type MappingContext, type ViewRow } from './context';

/** One row of fhir_organization (organization_id is the organization itself). */
export interface OrganizationRow extends ViewRow {
  name: string;
  type: string | null;
  email: string | null;
  phone: string | null;
  /** Free-form JSONB: whatever keys the MediLens backend stored. */
  address: Record<string, unknown> | null;
  is_active: boolean | null;
}

export function toOrganization(row: OrganizationRow, ctx: MappingContext): Organization {
  const systems = medilensSystems(ctx);
  const organization: Organization = {
    resourceType: 'Organization',
    id: row.id,
    meta: versionMeta(row),
    identifier: [{ use: 'secondary', system: systems.organizationId, value: row.id }],
    active: row.is_active !== false && row.deleted_at === null,
  };
  if (row.type) organization.type = [organizationType(ctx, row.type)];
  organization.name = row.name;
  const telecom: ContactPoint[] = [];
  if (row.phone) telecom.push({ system: 'phone', value: row.phone, use: 'work' });
  if (row.email) telecom.push({ system: 'email', value: row.email, use: 'work' });
  if (telecom.length) organization.telecom = telecom;
  const address = toAddress(row.address);
  if (address) organization.address = [address];
  return organization;
}

function organizationType(ctx: MappingContext, type: string): CodeableConcept {
  const standard = ORGANIZATION_TYPES[type.toLowerCase()];
  return {
    coding: [
      ...(standard ? [{ system: ORGANIZATION_TYPE, ...standard }] : []),
      { system: medilensSystems(ctx).organizationType, code: type, display: humanize(type) },
    ],
    text: humanize(type),
  };
}

/** Spellings seen for each Address element; the first non-empty one wins. */
const ADDRESS_KEYS = {
  city: ['city', 'town'],
  district: ['district', 'county'],
  state: ['state', 'region', 'province'],
  postalCode: ['postalCode', 'postal_code', 'zip', 'zipCode', 'zip_code', 'postcode'],
  country: ['country', 'country_code', 'countryCode'],
} as const;
const LINE_KEYS = ['line', 'lines', 'street', 'street1', 'street2', 'address1', 'address2', 'address_line1', 'address_line2', 'line1', 'line2'];

/**
 * The address JSONB as a FHIR Address: only string values of known keys are taken (anything else would
 * make the resource invalid), trimmed, empty ones dropped; none at all when nothing is left.
 */
export function toAddress(json: Record<string, unknown> | null): Address | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const address: Address = {};
  const line = LINE_KEYS.flatMap((key) => strings(json[key]));
  if (line.length) address.line = line;
  for (const [element, keys] of Object.entries(ADDRESS_KEYS) as [keyof typeof ADDRESS_KEYS, readonly string[]][]) {
    const value = keys.map((key) => strings(json[key])[0]).find((v) => v !== undefined);
    if (value !== undefined) address[element] = value;
  }
  const text = strings(json.text)[0];
  if (text !== undefined) address.text = text;
  return Object.keys(address).length ? address : undefined;
}

function strings(value: unknown): string[] {
  const values = Array.isArray(value) ? value : [value];
  return values.filter((v): v is string => typeof v === 'string').map((v) => v.trim()).filter((v) => v.length > 0);
}
