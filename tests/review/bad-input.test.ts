import type { Express } from 'express';
import { backendToken, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization, userWithRole } from '../support/fixtures';
import { caller, type Caller } from '../support/search';

/**
 * REVIEW: requests a client can send that end in 500 (or worse) instead of a 400 OperationOutcome.
 */
describe(`REVIEW crafted parameters (${testBackend()})`, () => {
  let db: TestDatabase;
  let app: Express;
  let who: Caller;

  beforeAll(async () => {
    db = await openTestDatabase();
    app = testApp(db);
    const org = await insertOrganization(db.dataSource, 'Org');
    await userWithRole(db.dataSource, org, 'P', 'patient');
    who = caller(app, await backendToken(app, 'rv-bad', await keyClient(db, 'rv-bad', 'system/*.rs', org), 'system/*.rs'));
  });
  afterAll(() => db.close());

  // Object.prototype names: `query[name] ??= []` (src/fhir/router.ts:43), def.sorts[key] / def.includes[param]
  // (src/search/request.ts:117,127) and def.parameters[name] look names up on plain objects.
  it.each([
    '/fhir/Patient?constructor=x',
    '/fhir/Patient?toString=x',
    '/fhir/Patient?__proto__=x',
    '/fhir/Patient?_sort=constructor',
    '/fhir/Patient?_sort=-hasOwnProperty',
    '/fhir/Patient?_include=Patient:constructor',
    '/fhir/Patient?_include=Patient:valueOf',
    '/fhir/Patient/_history?constructor=1',
  ])('%s is a 400, not a 500', async (path) => {
    const res = await who.get(path, { Prefer: 'handling=strict' });
    expect(res.status).toBe(400);
  });

  it('/fhir/metadata?constructor=1 (public, takes no parameters) answers the CapabilityStatement, not a 500', async () => {
    const res = await who.get('/fhir/metadata?constructor=1');
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('CapabilityStatement');
  });

  // Years 0000 and >= 9999 reach Postgres as '0000-...' (year 0 does not exist) or '+010000-...' (toISOString's
  // expanded years): src/search/parameters/date.ts:97 bound(), src/fhir/handlers/history.ts:29 _since.
  it.each([
    '/fhir/Observation?date=0000',
    '/fhir/Observation?date=ap0001',
    '/fhir/Observation?date=gt9999',
    '/fhir/Observation?date=ap9999',
    '/fhir/Observation?date=9999-12-31T23:59:59-14:00',
    '/fhir/Patient?birthdate=0000',
    '/fhir/Patient?birthdate=le9999',
    '/fhir/Patient?_lastUpdated=0000-06',
    '/fhir/Patient/_history?_since=0000-01-01T00:00:00Z',
    '/fhir/Patient/_history?_since=9999-12-31T23:59:59-14:00',
  ])('%s is a 400 or a 200, not a 500', async (path) => {
    const res = await who.get(path);
    expect([200, 400]).toContain(res.status);
  });

  it('a POST _search with 70,000 comma-separated codes is a 400 (more than 65,535 bind values), not a 500', async () => {
    const body = 'code=' + Array.from({ length: 70000 }, (_, i) => `c${i}`).join(',');
    const res = await who.post('/fhir/Observation/_search', body);
    expect(res.status).toBe(400); // actual: 500 "bind message has 4466 parameter formats but 0 parameters"
  });

  it('a POST _search with 40,000 OR-ed dates is a 400, not a 500', async () => {
    const body = 'date=' + Array.from({ length: 40000 }, () => '2020').join(',');
    const res = await who.post('/fhir/Observation/_search', body);
    expect(res.status).toBe(400);
  });
});
