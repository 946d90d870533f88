import { toAddress, toOrganization, type OrganizationRow } from '../../mappings/organization';
import { toPractitioner, type PractitionerRow } from '../../mappings/practitioner';

const ctx = { canonicalBase: 'https://fhir.example.org' };
const base = 'https://fhir.example.org';

const organizationRow: OrganizationRow = {
  id: '6e33e1ca-8a78-4e66-ae60-f0824239f992',
  organization_id: '6e33e1ca-8a78-4e66-ae60-f0824239f992',
  patient_id: null,
  version_id: 2,
  last_updated: new Date('2024-05-01T08:00:00Z'),
  deleted_at: null,
  name: 'Boston General Hospital',
  type: 'hospital',
  email: 'contact@bgh.example',
  phone: '+1-555-123-4567',
  address: { line: ['12 Main St'], city: 'Boston', state: 'MA', postalCode: '02118', country: 'US', settings: { x: 1 } },
  is_active: true,
};

const practitionerRow: PractitionerRow = {
  id: '9c1d2e3f-4a5b-4c6d-8e7f-000000000001',
  organization_id: organizationRow.id,
  patient_id: '9c1d2e3f-4a5b-4c6d-8e7f-000000000001',
  version_id: 1,
  last_updated: new Date('2024-06-01T08:00:00Z'),
  deleted_at: null,
  first_name: 'Amara',
  last_name: 'Okafor',
  email: 'amara@clinicians.example',
  gender: 'F',
  is_active: true,
};

describe('toOrganization', () => {
  it('maps name, type, telecom, address and the MediLens organization id', () => {
    expect(toOrganization(organizationRow, ctx)).toEqual({
      resourceType: 'Organization',
      id: organizationRow.id,
      meta: { versionId: '2', lastUpdated: '2024-05-01T08:00:00.000Z' },
      identifier: [{ use: 'secondary', system: `${base}/sid/organization-id`, value: organizationRow.id }],
      active: true,
      type: [
        {
          coding: [
            { system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'prov', display: 'Healthcare Provider' },
            { system: `${base}/CodeSystem/organization-type`, code: 'hospital', display: 'Hospital' },
          ],
          text: 'Hospital',
        },
      ],
      name: 'Boston General Hospital',
      telecom: [
        { system: 'phone', value: '+1-555-123-4567', use: 'work' },
        { system: 'email', value: 'contact@bgh.example', use: 'work' },
      ],
      address: [{ line: ['12 Main St'], city: 'Boston', state: 'MA', postalCode: '02118', country: 'US' }],
    });
  });

  it('is inactive when deactivated or deleted; an unknown type keeps the MediLens coding only', () => {
    expect(toOrganization({ ...organizationRow, is_active: false }, ctx).active).toBe(false);
    expect(toOrganization({ ...organizationRow, deleted_at: '2026-01-01T00:00:00+00:00' }, ctx).active).toBe(false);
    expect(toOrganization({ ...organizationRow, type: 'research_lab' }, ctx).type?.[0].coding).toEqual([
      { system: `${base}/CodeSystem/organization-type`, code: 'research_lab', display: 'Research lab' },
    ]);
    const bare = toOrganization({ ...organizationRow, type: null, email: null, phone: null, address: null }, ctx);
    expect(Object.keys(bare).sort()).toEqual(['active', 'id', 'identifier', 'meta', 'name', 'resourceType']);
  });

  it.each<[Record<string, unknown> | null, object | undefined]>([
    [{ street: ' 1 Elm Rd ', address2: 'Suite 4', zip: '10001', region: 'NY', town: 'New York' }, { line: ['1 Elm Rd', 'Suite 4'], city: 'New York', state: 'NY', postalCode: '10001' }],
    [{ line: '5 Oak Ave', postal_code: 'SW1A 1AA', country: 'GB', county: 'Greater London' }, { line: ['5 Oak Ave'], district: 'Greater London', postalCode: 'SW1A 1AA', country: 'GB' }],
    [{ city: '', state: 42, line: [null, ' '], geo: { lat: 1 } }, undefined],
    [{ text: 'Somewhere 1, Springfield' }, { text: 'Somewhere 1, Springfield' }],
    [null, undefined],
  ])('address JSONB %p -> %p (only valid, known parts)', (json, address) => expect(toAddress(json)).toEqual(address));
});

describe('toPractitioner', () => {
  it('maps the MediLens user id (the Patient system), name, email, gender', () => {
    expect(toPractitioner(practitionerRow, ctx)).toEqual({
      resourceType: 'Practitioner',
      id: practitionerRow.id,
      meta: { versionId: '1', lastUpdated: '2024-06-01T08:00:00.000Z' },
      identifier: [{ use: 'secondary', system: `${base}/sid/user-id`, value: practitionerRow.id }],
      active: true,
      name: [{ use: 'official', family: 'Okafor', given: ['Amara'] }],
      telecom: [{ system: 'email', value: 'amara@clinicians.example', use: 'work' }],
      gender: 'female',
    });
  });

  it('is inactive when deactivated or deleted; leaves out unknown name and email', () => {
    expect(toPractitioner({ ...practitionerRow, is_active: false }, ctx).active).toBe(false);
    const bare = toPractitioner({ ...practitionerRow, first_name: null, last_name: null, email: null, gender: null, deleted_at: new Date() }, ctx);
    expect(bare).toMatchObject({ active: false, gender: 'unknown' });
    expect(bare.name).toBeUndefined();
    expect(bare.telecom).toBeUndefined();
  });
});
