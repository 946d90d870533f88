import type { Bundle, Observation, Patient } from 'fhir/r4';
import { generateDemoData } from '../../src/demo/generator';
import { ExternalIdp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { failure, fhirKitClient, resourcesOf, startGateway, walk, type FhirKitClient, type Gateway } from '../support/journey';

/**
 * A clinician's app, signed in at the external identity provider (a local JWKS), driven with
 * fhir-kit-client against a listening gateway: find a patient by name and birth date, then chart their
 * heart rate since a date, newest first, five readings a page. Then the patient's own app asks the same
 * with a patient-scoped token and sees their own compartment only.
 */

const LOINC_HEART_RATE = 'http://loinc.org|8867-4';
const PAGE = 5;

interface Person {
  id: string;
  sub: string | null;
  first_name: string;
  last_name: string;
  birth: string;
}

interface Reading {
  id: string;
  value: number;
  effective: Date;
}

/** Observation fields the chart uses, as [id, value, effective instant]. */
const chartRows = (observations: Observation[]) => observations.map((o) => [o.id, o.valueQuantity?.value, o.effectiveDateTime]);
const sqlRows = (readings: Reading[]) => readings.map((r) => [r.id, r.value, r.effective.toISOString()]);

describe(`journey: clinician app queries a heart-rate series (${testBackend()})`, () => {
  let db: TestDatabase;
  let idp: ExternalIdp;
  let gateway: Gateway;
  let client: FhirKitClient;
  let clinic: string;
  let otherClinic: string;
  let clinician: Person;
  /** The patient charted; has an app account (a sub at the identity provider). */
  let patient: Person;
  /** Another patient of the clinic. */
  let neighbour: Person;
  /** A patient of the other organization. */
  let stranger: Person;
  /** Start of the charted period: a day, and the instant it starts. */
  let since: string;
  /** A heart rate of the patient measured by the other organization, inside the period. */
  let foreignReading: string;
  /** A heart rate of the patient whose assessment was retracted (soft-deleted), inside the period. */
  let retractedReading: string;

  const ofOrganization = async (organizationId: string, role: 'patient' | 'clinician'): Promise<Person[]> =>
    db.dataSource.query(
      `SELECT u.id, u.clerk_user_id AS sub, u.first_name, u.last_name, u.date_of_birth::text AS birth
         FROM users u
        WHERE u.organization_id = $1 AND u.is_active AND u.deleted_at IS NULL AND u.clerk_user_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name = $2)
        ORDER BY (SELECT count(*) FROM biomarker_values b JOIN assessments a ON a.id = b.assessment_id
                   WHERE b.user_id = u.id AND b.biomarker_name = 'heart_rate' AND a.deleted_at IS NULL) DESC, u.id`,
      [organizationId, role],
    );

  /** The heart rates of `patientId` since `from`, as SQL sees them: newest first, ties by id. */
  const heartRates = async (patientId: string, from: string | null, organizationId: string | null): Promise<Reading[]> =>
    db.dataSource.query(
      `SELECT b.id, b.value::float8 AS value, a.created_at AS effective
         FROM biomarker_values b JOIN assessments a ON a.id = b.assessment_id
        WHERE b.user_id = $1 AND b.biomarker_name = 'heart_rate' AND a.deleted_at IS NULL
          AND ($2::timestamptz IS NULL OR a.created_at >= $2::timestamptz)
          AND ($3::uuid IS NULL OR b.organization_id = $3::uuid)
        ORDER BY a.created_at DESC, b.id`,
      [patientId, from, organizationId],
    );

  /** A user token of the identity provider for this gateway. */
  const userToken = (person: Person, scope: string, claims: Record<string, unknown> = {}) =>
    idp.token({ sub: person.sub, scope, aud: gateway.fhirBase, ...claims });

  /** Every page of the chart query, with the page size checked on each. */
  async function chart(searchParams: Record<string, string | number>): Promise<{ pages: Bundle[]; observations: Observation[] }> {
    const first = await client.search({ resourceType: 'Observation', searchParams: { ...searchParams, _sort: '-date', _count: PAGE } });
    const pages = await walk(client, first);
    for (const [n, page] of pages.entries()) {
      expect(page).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
      const matches = resourcesOf<Observation>(page, 'match');
      expect(resourcesOf(page, 'include')).toEqual([]);
      if (n < pages.length - 1) expect(matches).toHaveLength(PAGE);
      else expect(matches.length).toBeLessThanOrEqual(PAGE);
    }
    const observations = pages.flatMap((p) => resourcesOf<Observation>(p, 'match'));
    // A next link only when more rows follow: no empty trailing page.
    expect(pages).toHaveLength(Math.max(1, Math.ceil(observations.length / PAGE)));
    return { pages, observations };
  }

  /** Newest first: effective time never increases; equal times in id order. */
  function expectDescending(observations: Observation[]): void {
    for (let i = 1; i < observations.length; i++) {
      const [a, b] = [observations[i - 1], observations[i]];
      const [ta, tb] = [Date.parse(a.effectiveDateTime!), Date.parse(b.effectiveDateTime!)];
      expect(tb).toBeLessThanOrEqual(ta);
      if (ta === tb) expect(b.id! > a.id!).toBe(true);
    }
  }

  beforeAll(async () => {
    db = await openTestDatabase();
    const ds = db.dataSource;
    const demo = await generateDemoData(ds, { patients: 24, assessmentsPerPatient: 12, organizations: 2, clinicians: 2, seed: 5 });
    [clinic, otherClinic] = demo.organizationIds;

    [clinician] = await ofOrganization(clinic, 'clinician');
    [patient, neighbour] = await ofOrganization(clinic, 'patient');
    [stranger] = await ofOrganization(otherClinic, 'patient');
    expect([clinician, patient, neighbour, stranger].every(Boolean)).toBe(true);
    expect((await heartRates(neighbour.id, null, null)).length).toBeGreaterThan(0);
    expect((await heartRates(stranger.id, null, null)).length).toBeGreaterThan(0);

    // The period starts on the day of the patient's third reading: the two before it stay out.
    const all = await heartRates(patient.id, null, clinic);
    expect(all.length).toBeGreaterThanOrEqual(2 * PAGE);
    since = all[all.length - 3].effective.toISOString().slice(0, 10);
    const inPeriod = all.filter((r) => r.effective.getTime() >= Date.parse(`${since}T00:00:00Z`));

    // The MediLens backend retracted one ECG of the period, and the other organization measured one.
    [{ id: retractedReading }] = await ds.query(
      `WITH retracted AS (UPDATE assessments SET deleted_at = now() WHERE id = (SELECT assessment_id FROM biomarker_values WHERE id = $1) RETURNING id)
       SELECT b.id FROM biomarker_values b JOIN retracted r ON r.id = b.assessment_id WHERE b.biomarker_name = 'heart_rate'`,
      [inPeriod[1].id],
    );
    const at = new Date((inPeriod[0].effective.getTime() + inPeriod[1].effective.getTime()) / 2).toISOString();
    const [{ id: foreignAssessment }] = await ds.query(
      `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type, status, risk_score, created_at, completed_at)
       VALUES ('journey-foreign-ecg', $1, $2, 'cardiology', 'completed', 12, $3, $3) RETURNING id`,
      [patient.id, otherClinic, at],
    );
    [{ id: foreignReading }] = await ds.query(
      `INSERT INTO biomarker_values (assessment_id, biomarker_name, value, unit, created_at) VALUES ($1, 'heart_rate', 99, 'bpm', $2) RETURNING id`,
      [foreignAssessment, at],
    );

    idp = await ExternalIdp.start();
    gateway = await startGateway(db, (baseUrl) => idp.env(`${baseUrl}/fhir`));
    client = await fhirKitClient(gateway.fhirBase);
  });

  afterAll(async () => {
    await gateway?.server.stop(1000);
    await idp?.stop();
    await db?.close();
  });

  it('finds the patient by name and birth date, and charts their heart rate exactly as the database holds it', async () => {
    client.bearerToken = await userToken(clinician, 'user/Observation.rs user/Patient.rs', { fhirUser: `Practitioner/${clinician.id}` });

    // A few letters of the given name, typed in capitals, and the birth date.
    const typed = patient.first_name.slice(0, 3).toUpperCase();
    const found = await walk(client, await client.search({ resourceType: 'Patient', searchParams: { name: typed, birthdate: patient.birth } }));
    const candidates = found.flatMap((p) => resourcesOf<Patient>(p, 'match'));
    const expected = (
      await db.dataSource.query(
        `SELECT u.id FROM users u
          WHERE u.organization_id = $1 AND u.deleted_at IS NULL AND u.date_of_birth = $2::date
            AND (u.given_fold LIKE search_fold($3) || '%' OR u.family_fold LIKE search_fold($3) || '%')
            AND (EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name = 'patient')
                 OR NOT EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id))
          ORDER BY u.id`,
        [clinic, patient.birth, typed],
      )
    ).map((r: { id: string }) => r.id);
    expect(candidates.map((p) => p.id).sort()).toEqual(expected);
    const chosen = candidates.find((p) => p.id === patient.id)!;
    expect(chosen).toMatchObject({ birthDate: patient.birth, managingOrganization: { reference: `Organization/${clinic}` } });
    expect(chosen.name?.[0]).toMatchObject({ family: patient.last_name, given: [patient.first_name] });

    const { observations } = await chart({ patient: chosen.id!, code: LOINC_HEART_RATE, date: `ge${since}` });
    const expectedReadings = await heartRates(patient.id, `${since}T00:00:00Z`, clinic);
    expect(expectedReadings.length).toBeGreaterThan(PAGE);
    expect((await heartRates(patient.id, null, clinic)).length).toBeGreaterThan(expectedReadings.length);
    expectDescending(observations);
    expect(chartRows(observations)).toEqual(sqlRows(expectedReadings));
    for (const o of observations) {
      expect(o.subject).toEqual({ reference: `Patient/${patient.id}` });
      expect(o.code.coding).toContainEqual(expect.objectContaining({ system: 'http://loinc.org', code: '8867-4' }));
      expect(o.category?.[0].coding?.[0]).toMatchObject({ code: 'vital-signs' });
    }
    const ids = observations.map((o) => o.id);
    expect(ids).not.toContain(retractedReading);
    expect(ids).not.toContain(foreignReading);

    // The same series asked the other ways an app might: the patient as the fullUrl the search gave
    // (or Type/id, or as subject), the start as an instant with an offset, the bare LOINC code or the
    // MediLens code.
    const fullUrl = found.flatMap((p) => p.entry ?? []).find((e) => e.resource?.id === patient.id)!.fullUrl!;
    expect(fullUrl).toBe(`${gateway.fhirBase}/Patient/${patient.id}`);
    const variants: Record<string, string>[] = [
      { patient: fullUrl, code: LOINC_HEART_RATE, date: `ge${since}` },
      { subject: `Patient/${patient.id}`, code: LOINC_HEART_RATE, date: `ge${since}` },
      { patient: patient.id, code: LOINC_HEART_RATE, date: `ge${since}T02:00:00+02:00` },
      { patient: patient.id, code: '8867-4', date: `ge${since}` },
      { patient: patient.id, code: 'https://fhir.medilens.ai/CodeSystem/biomarker|heart_rate', date: `ge${since}` },
    ];
    // With the total an app shows above the chart: on every page, the number SQL counts.
    const counted = await chart({ patient: patient.id, code: LOINC_HEART_RATE, date: `ge${since}`, _total: 'accurate' });
    expect(counted.pages.map((p) => p.total)).toEqual(counted.pages.map(() => expectedReadings.length));
    for (const searchParams of variants) {
      const again = await chart(searchParams);
      expect({ searchParams, rows: chartRows(again.observations) }).toEqual({ searchParams, rows: sqlRows(expectedReadings) });
    }
  });

  it("gets nothing of another organization's patient: empty searches, 404 reads", async () => {
    client.bearerToken = await userToken(clinician, 'user/Observation.rs user/Patient.rs');

    const byName = await client.search({ resourceType: 'Patient', searchParams: { name: stranger.first_name, birthdate: stranger.birth } });
    expect(resourcesOf(byName, 'match').map((p) => p.id)).not.toContain(stranger.id);
    const refused = await failure(client.read({ resourceType: 'Patient', id: stranger.id }));
    expect(refused?.status).toBe(404);
    expect(refused?.data.issue[0].code).toBe('not-found');

    const { pages, observations } = await chart({ patient: stranger.id, code: LOINC_HEART_RATE, date: `ge${since}` });
    expect(pages).toHaveLength(1);
    expect(observations).toEqual([]);
    expect(pages[0].entry ?? []).toEqual([]);
    const [theirs] = await heartRates(stranger.id, null, null);
    expect((await failure(client.read({ resourceType: 'Observation', id: theirs.id })))?.status).toBe(404);
    // Nor what the other organization measured of the clinic's own patient.
    expect((await failure(client.read({ resourceType: 'Observation', id: foreignReading })))?.status).toBe(404);
  });

  it('with a patient-scoped token, the patient sees their own compartment only', async () => {
    client.bearerToken = await userToken(patient, 'patient/Observation.rs', { fhirUser: `Patient/${patient.id}` });

    // Their own compartment is everything about them, whichever organization measured it.
    const own = await heartRates(patient.id, `${since}T00:00:00Z`, null);
    expect(own.map((r) => r.id)).toContain(foreignReading);
    const { observations } = await chart({ patient: patient.id, code: LOINC_HEART_RATE, date: `ge${since}` });
    expectDescending(observations);
    expect(chartRows(observations)).toEqual(sqlRows(own));

    // Without a patient parameter: still only theirs.
    const everything = await chart({ code: LOINC_HEART_RATE });
    expect(new Set(everything.observations.map((o) => o.subject?.reference))).toEqual(new Set([`Patient/${patient.id}`]));
    expect(chartRows(everything.observations)).toEqual(sqlRows(await heartRates(patient.id, null, null)));

    // Anyone else: empty searches and 404 reads, in or outside their organization.
    for (const other of [neighbour, stranger]) {
      const theirs = await chart({ patient: other.id, code: LOINC_HEART_RATE });
      expect(theirs.observations).toEqual([]);
      const [reading] = await heartRates(other.id, null, null);
      expect((await failure(client.read({ resourceType: 'Observation', id: reading.id })))?.status).toBe(404);
    }
    // No Patient scope was granted: reading even their own Patient is refused with the scope it needs.
    const refused = await failure(client.read({ resourceType: 'Patient', id: patient.id }));
    expect(refused?.status).toBe(403);
    expect(refused?.data.issue[0].diagnostics).toContain('Patient.r');
  });
});
