import type { Bundle, Observation, OperationOutcome, Patient } from 'fhir/r4';
import { createApp } from '../../src/app';
import { registerClient } from '../../src/auth/clients';
import { loadConfig } from '../../src/config';
import { generateDemoData } from '../../src/demo/generator';
import { createLogger } from '../../src/logging';
import { listen, type RunningServer } from '../../src/server';
import { assertion, clientKey } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';

type FhirClient = {
  bearerToken: string;
  smartAuthMetadata(): Promise<{ tokenUrl?: URL | string }>;
  search(args: { resourceType: string; searchParams: Record<string, string | number> }): Promise<Bundle>;
  nextPage(args: { bundle: Bundle }): Promise<Bundle | undefined>;
  read(args: { resourceType: string; id: string }): Promise<Patient | Observation>;
};

/**
 * An EHR integrator's first day, driven with fhir-kit-client against a listening gateway: discover the
 * token endpoint, authenticate with a signed assertion, page through the clinic's Patients, read one
 * and an Observation, and be refused what belongs to another clinic.
 */
describe(`journey: EHR backend client (${testBackend()})`, () => {
  let db: TestDatabase;
  let server: RunningServer;
  let baseUrl: string;
  let Client: new (opts: { baseUrl: string }) => FhirClient;
  let clinic: string;
  let otherClinic: string;

  beforeAll(async () => {
    // fhir-kit-client 2.x is ESM only: a real dynamic import.
    ({ Client } = (await import('fhir-kit-client')) as unknown as { Client: typeof Client });
    db = await openTestDatabase();
    const demo = await generateDemoData(db.dataSource, { patients: 12, assessmentsPerPatient: 2, organizations: 2, clinicians: 1, seed: 7 });
    [clinic, otherClinic] = demo.organizationIds;
    server = await listen(
      (port) => {
        baseUrl = `http://127.0.0.1:${port}`;
        return createApp({ config: loadConfig({ PORT: String(port), PUBLIC_BASE_URL: baseUrl }), db, logger: createLogger('silent') });
      },
      0,
      '127.0.0.1',
    );
  });
  afterAll(async () => {
    await server.stop(1000);
    await db.close();
  });

  const patientsOf = async (organizationId: string): Promise<string[]> =>
    (
      await db.dataSource.query(
        `SELECT u.id FROM users u JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id AND r.name = 'patient'
         WHERE u.organization_id = $1 ORDER BY u.id`,
        [organizationId],
      )
    ).map((r: { id: string }) => r.id);

  it('discovers, authenticates, pages through its clinic and reads, and is refused the other clinic', async () => {
    const key = await clientKey('RS384');
    await registerClient(db.dataSource, {
      clientId: 'ehr-journey',
      jwks: { keys: [key.publicJwk] },
      scope: 'system/Patient.rs system/Observation.rs',
      organizationId: clinic,
    });
    const client = new Client({ baseUrl: `${baseUrl}/fhir` });
    const { tokenUrl } = await client.smartAuthMetadata();
    expect(String(tokenUrl)).toBe(`${baseUrl}/auth/token`);

    const tokenResponse = await fetch(String(tokenUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'system/Patient.read system/Observation.read',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await assertion('ehr-journey', key, { aud: String(tokenUrl) }),
      }),
    });
    expect(tokenResponse.status).toBe(200);
    const token = (await tokenResponse.json()) as { access_token: string };
    expect(token).toMatchObject({ token_type: 'Bearer', scope: 'system/Patient.read system/Observation.read' });
    client.bearerToken = token.access_token;

    const seen: string[] = [];
    let page: Bundle | undefined = await client.search({ resourceType: 'Patient', searchParams: { _count: 4 } });
    let pages = 0;
    while (page) {
      pages++;
      expect(page.entry!.length).toBeLessThanOrEqual(4);
      seen.push(...page.entry!.map((e) => e.resource!.id!));
      page = page.link?.some((l) => l.relation === 'next') ? await client.nextPage({ bundle: page }) : undefined;
    }
    const expected = await patientsOf(clinic);
    expect(seen).toEqual(expected);
    // A next link only when more rows follow: no empty trailing page.
    expect(pages).toBe(Math.ceil(expected.length / 4));

    const patient = await client.read({ resourceType: 'Patient', id: expected[0] });
    expect(patient).toMatchObject({ resourceType: 'Patient', id: expected[0], managingOrganization: { reference: `Organization/${clinic}` } });

    const [observationRow] = await db.dataSource.query(`SELECT id, biomarker_name FROM biomarker_values WHERE user_id = $1 LIMIT 1`, [expected[0]]);
    const observation = (await client.read({ resourceType: 'Observation', id: observationRow.id })) as Observation;
    expect(observation.subject).toEqual({ reference: `Patient/${expected[0]}` });
    expect(observation.code.coding).toContainEqual(expect.objectContaining({ code: observationRow.biomarker_name }));

    const [stranger] = await patientsOf(otherClinic);
    const refused = await client.read({ resourceType: 'Patient', id: stranger }).then(
      () => null,
      (err: { response: { status: number; data: OperationOutcome } }) => err.response,
    );
    expect(refused?.status).toBe(404);
    expect(refused?.data.issue[0].code).toBe('not-found');

    client.bearerToken = 'not-a-token';
    const unauthenticated = await client.read({ resourceType: 'Patient', id: expected[0] }).then(
      () => null,
      (err: { response: { status: number } }) => err.response,
    );
    expect(unauthenticated?.status).toBe(401);
  });
});
