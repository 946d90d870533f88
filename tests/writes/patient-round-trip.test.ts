import crypto from 'node:crypto';
import type { Bundle, Patient } from 'fhir/r4';
import { testBackend } from '../support/database';
import { comparable, MRN, patient, USER_ID_SYSTEM, writeFixture, type Api, type WriteFixture } from './support';
import { usCoreChildExample, usCoreInfantExample, usCorePatientExample } from './us-core-patients';

/**
 * A hospital that writes a Patient (POST or PUT) and reads it back finds every element it sent;
 * only meta.versionId/lastUpdated, text and the MediLens user-id identifier (first) are the server's.
 * When the MediLens backend changes a column directly, the column wins on read and the rest stays.
 */
const FITZPATRICK = 'https://fhir.medilens.ai/StructureDefinition/fitzpatrick-skin-type';
const ETHNICITY = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity';
const uid = () => crypto.randomUUID().slice(0, 8);

/** Edge cases: every Patient element, partial dates, primitive extensions, unicode, ranks, periods. */
function kitchenSink(orgA: string): Patient[] {
  const s = uid();
  return [
    {
      resourceType: 'Patient',
      meta: {
        profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient'],
        tag: [{ system: 'http://hospital.example/tags', code: 'import-2026' }],
        security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }],
      },
      language: 'es',
      identifier: [
        { use: 'official', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, system: MRN, value: `MR-${s}`, period: { start: '2001-01-01' }, assigner: { display: 'Hospital A' } },
        { use: 'secondary', type: { text: 'Driver license' }, system: 'urn:oid:2.16.840.1.113883.4.3.25', value: `S99-${s}`, period: { start: '2019-05-01', end: '2029-05-01' }, assigner: { reference: `Organization/${orgA}`, display: 'RMV' } },
      ],
      active: false,
      name: [
        { use: 'usual', text: 'Zoë O\'Brien-Núñez', family: 'O\'Brien-Núñez', given: ['Zoë', 'Ana'], prefix: ['Dr.'], suffix: ['MD', 'PhD'] },
        { use: 'maiden', family: 'Núñez', given: ['Zoë'], period: { end: '2010-06-30' } },
        { use: 'nickname', given: ['Z'] },
      ],
      telecom: [
        { system: 'phone', value: '+1-555-0100', use: 'mobile', rank: 1, period: { start: '2020-01-01' } },
        { system: 'email', value: `zoe.${s}@example.org`, use: 'work', rank: 2 },
        { system: 'phone', value: '+1-555-0199', use: 'old', period: { start: '2010-01-01', end: '2019-12-31' } },
        { system: 'sms', value: '+1-555-0100' },
      ],
      gender: 'other',
      birthDate: '1975-11-30',
      _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1975-11-30T04:12:00-05:00' }] },
      deceasedDateTime: '2024-03-01T10:15:00+02:00',
      address: [
        { use: 'home', type: 'both', text: '1 Rue de la Paix, 75002 Paris', line: ['1 Rue de la Paix', 'Bât. B'], city: 'Paris', district: '2e arrondissement', postalCode: '75002', country: 'FR', period: { start: '2011-01-01' } },
        { use: 'billing', line: ['PO Box 7'], city: 'Boston', district: 'Suffolk', state: 'MA', period: { start: '2015-02-01', end: '2020-01-31' } },
      ],
      maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'W', display: 'Widowed' }], text: 'Widowed' },
      multipleBirthInteger: 2,
      photo: [{ contentType: 'image/png', data: Buffer.from('not really a png').toString('base64'), title: 'ID photo', creation: '2020-01-01' }],
      contact: [
        {
          relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0131', code: 'N' }] }],
          name: { family: 'Núñez', given: ['Rosa'] },
          telecom: [{ system: 'phone', value: '+33-1-0000-0000' }],
          address: { city: 'Lyon', country: 'FR' },
          gender: 'female',
          period: { start: '2011-01-01' },
        },
      ],
      communication: [
        { language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'fr' }], text: 'French' } },
        { language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'es' }] }, preferred: true },
      ],
      generalPractitioner: [{ reference: `Practitioner/${crypto.randomUUID()}`, display: 'Dr. House' }],
      managingOrganization: { reference: `Organization/${orgA}`, display: 'Hospital A' },
      link: [{ other: { reference: `Patient/${crypto.randomUUID()}` }, type: 'seealso' }],
      extension: [
        { url: ETHNICITY, extension: [{ url: 'text', valueString: 'Hispanic or Latino' }] },
        { url: FITZPATRICK, valueInteger: 4 },
        { url: 'http://hospital.example/ext/weight-kg', valueDecimal: 61.25 },
      ],
    },
    { ...patient(`P70-${s}`), birthDate: '1970', deceasedBoolean: true, multipleBirthBoolean: true, gender: 'unknown' },
    { ...patient(`P7005-${s}`), birthDate: '1970-05', name: [{ text: 'Only Text' }], telecom: [{ system: 'email', value: `MiXeD.Case.${s}@Example.ORG` }] },
    { resourceType: 'Patient', identifier: [{ system: MRN, value: `BARE-${s}` }] },
  ];
}

describe(`Patient round trip (${testBackend()})`, () => {
  let f: WriteFixture;
  let a: Api;

  beforeAll(async () => {
    f = await writeFixture();
    a = await f.client();
  });
  afterAll(() => f?.db.close());

  /** What must come back: all that was sent (meta.extension aside, see its own test) plus the managing organization. */
  const expected = (sent: Patient) => {
    const { meta, ...rest } = comparable(sent) as Partial<Patient>;
    const { extension, ...keptMeta } = meta ?? {};
    void extension;
    // What the server says when the hospital did not: the organization, active (is_active) and, as US Core
    // requires a gender, 'unknown' without one.
    return {
      managingOrganization: { reference: `Organization/${f.orgA}` },
      active: true,
      gender: 'unknown',
      ...rest,
      ...(Object.keys(keptMeta).length ? { meta: keptMeta } : {}),
    };
  };
  const withoutMetaExtension = (p: Patient) => {
    const c = comparable(p) as Partial<Patient>;
    if (c.meta) {
      const { extension, ...m } = c.meta;
      void extension;
      c.meta = Object.keys(m).length ? m : undefined;
      if (!c.meta) delete c.meta;
    }
    return c;
  };
  const readBack = async (id: string) => (await a.read(id).expect(200)).body as Patient;

  const examples: [string, () => Patient][] = [
    ['US Core patient-example', () => usCorePatientExample(uid())],
    ['US Core child-example', () => usCoreChildExample(uid())],
    ['US Core infant-example', () => usCoreInfantExample(uid())],
    ...[0, 1, 2, 3].map((i): [string, () => Patient] => [`edge case ${i + 1}`, () => kitchenSink(f.orgA)[i]]),
  ];

  it.each(examples)('%s: POSTed, read back with every element sent, the server identifier first', async (_name, make) => {
    const sent = make();
    const res = await a.create(sent);
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 201 });
    const read = await readBack(res.body.id);
    expect(read).toEqual(res.body);
    expect(read.identifier![0]).toEqual({ use: 'secondary', system: USER_ID_SYSTEM, value: read.id });
    expect(withoutMetaExtension(read)).toEqual(expected(sent));
  });

  it.each(examples)('%s: PUT over an existing Patient, read back with every element sent', async (_name, make) => {
    const sent = make();
    const mrn = sent.identifier![0];
    const first = (await a.create(patient(mrn.value!, { identifier: [mrn], name: [{ family: 'Placeholder' }], address: [{ city: 'Nowhere' }] })).expect(201)).body as Patient;
    const res = await a.update(first.id!, { ...sent, id: first.id });
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 200, body: { meta: { versionId: '2' } } });
    expect(withoutMetaExtension(await readBack(first.id!))).toEqual(expected(sent));
  });

  it('meta.extension (the US Core examples carry two) comes back', async () => {
    const sent = usCorePatientExample(uid());
    const res = await a.create(sent).expect(201);
    expect((await readBack(res.body.id)).meta?.extension).toEqual(sent.meta!.extension);
  });

  // Known limit (README, Writes): name search reads the columns, which hold the current name; former
  // names are kept and returned, but not searched.
  it('the Patient is found by its current name (name, family, given), not by a former one', async () => {
    const sent = usCorePatientExample(uid());
    const id = (await a.create(sent).expect(201)).body.id;
    const mrn = sent.identifier![0].value!;
    const found = async (q: string) =>
      ((await a.get(`Patient?${q}&identifier=${encodeURIComponent(`http://hospital.smarthealthit.org|${mrn}`)}`).expect(200)).body as Bundle).entry?.map((e) => e.resource!.id) ?? [];
    // Amy V. Baxter is her current name (Shaw is use=old, ended 2020-07-22).
    expect({ Amy: await found('name=Amy'), given: await found('given=Amy') }).toEqual({ Amy: [id], given: [id] });
    expect({ Baxter: await found('name=Baxter'), family: await found('family=Baxter') }).toEqual({ Baxter: [id], family: [id] });
    expect(await found('family=Shaw')).toEqual([]);
  });

  it('a column changed by the MediLens backend wins on read; every other element stays as sent', async () => {
    const sent = usCorePatientExample(uid());
    const id = (await a.create(sent).expect(201)).body.id;
    const before = await readBack(id);
    await f.sql(`UPDATE users SET first_name = 'Amelia' WHERE id = $1`, [id]);
    const after = await readBack(id);
    expect(after.meta!.versionId).toBe('2');
    const givens = after.name!.map((n) => (n.given ?? []).join(' '));
    expect(givens).toContain('Amelia');
    const { name: _n1, meta: _m1, ...restAfter } = after;
    const { name: _n2, meta: _m2, ...restBefore } = before;
    void _n1; void _n2; void _m1; void _m2;
    expect(restAfter).toEqual(restBefore);
    expect(after.meta!.profile).toEqual(before.meta!.profile);
    // The old version still reads as it was written.
    expect((await a.get(`Patient/${id}/_history/1`).expect(200)).body.name).toEqual(sent.name);

    await f.sql(`UPDATE user_profiles SET fitzpatrick_type = 2 WHERE user_id = $1`, [id]);
    await f.sql(`INSERT INTO user_profiles (user_id, fitzpatrick_type) VALUES ($1, 5) ON CONFLICT (user_id) DO UPDATE SET fitzpatrick_type = 5`, [id]);
    const withProfile = await readBack(id);
    expect(withProfile.extension).toEqual(expect.arrayContaining([{ url: FITZPATRICK, valueInteger: 5 }]));
    const { extension: _e, meta: _m3, ...restProfile } = withProfile;
    const { extension: _e2, meta: _m4, ...restAfter2 } = after;
    void _e; void _e2; void _m3; void _m4;
    expect(restProfile).toEqual(restAfter2);
  });

  it('a column change replaces only what the column holds: the other names survive a first_name change', async () => {
    const sent = usCorePatientExample(uid());
    const id = (await a.create(sent).expect(201)).body.id;
    await f.sql(`UPDATE users SET first_name = 'Amelia' WHERE id = $1`, [id]);
    const after = await readBack(id);
    expect(after.name!.map((n) => n.family)).toEqual(expect.arrayContaining(['Shaw', 'Baxter']));
  });

  it('a column change replaces only what the column holds: the phone numbers survive an email change', async () => {
    const sent = usCorePatientExample(uid());
    const id = (await a.create(sent).expect(201)).body.id;
    await f.sql(`UPDATE users SET email = $2 WHERE id = $1`, [id, `changed.${uid()}@example.com`]);
    const after = await readBack(id);
    expect(after.telecom).toEqual(expect.arrayContaining([{ system: 'phone', value: '555-555-5555', use: 'home' }]));
  });

  it('a PUT of the Patient as read (server identifier included) is accepted and does not duplicate the identifier', async () => {
    const sent = usCorePatientExample(uid());
    const id = (await a.create(sent).expect(201)).body.id;
    await f.sql(`UPDATE users SET last_name = 'Shaw-Baxter' WHERE id = $1`, [id]);
    const read = await readBack(id);
    const [{ n: before }] = await f.sql<{ n: number }>(`SELECT count(*)::int AS n FROM patient_identifiers WHERE user_id = $1`, [id]);
    const res = await a.update(id, read, { 'If-Match': `W/"${read.meta!.versionId}"` });
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 200 });
    const again = await readBack(id);
    expect(again.identifier).toEqual(read.identifier);
    expect(again.identifier!.filter((i) => i.system === USER_ID_SYSTEM)).toHaveLength(1);
    const [{ n: after }] = await f.sql<{ n: number }>(`SELECT count(*)::int AS n FROM patient_identifiers WHERE user_id = $1`, [id]);
    expect(after).toBe(before);
    const [{ n: own }] = await f.sql<{ n: number }>(`SELECT count(*)::int AS n FROM patient_identifiers WHERE system = $1`, [USER_ID_SYSTEM]);
    expect(own).toBe(0);
    expect(comparable(again)).toEqual(comparable(read));
    // Twice more: still one of each identifier.
    await a.update(id, again).expect(200);
    expect((await readBack(id)).identifier).toEqual(read.identifier);
  });

  it('a PUT that leaves out an element the Patient had removes it on read (PUT replaces the whole resource)', async () => {
    const sent = usCorePatientExample(uid());
    const created = (await a.create(sent).expect(201)).body as Patient;
    const { address, telecom, extension, ...rest } = sent;
    void address; void telecom; void extension;
    await a.update(created.id!, { ...rest, id: created.id }).expect(200);
    const read = await readBack(created.id!);
    expect(read.address).toBeUndefined();
    expect(read.telecom).toBeUndefined();
    expect(read.extension).toBeUndefined();
    const [row] = await f.sql<{ email: string | null }>(`SELECT email FROM users WHERE id = $1`, [created.id]);
    expect(row.email).toBeNull();
  });
});
