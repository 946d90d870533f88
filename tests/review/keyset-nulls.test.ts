import type { Express } from 'express';
import { backendToken, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization, insertUser } from '../support/fixtures';
import { allPages, caller, type Caller } from '../support/search';

/** REVIEW (held up): keyset pages with NULL sort values and descending multi-key sorts skip and repeat nothing. */
describe(`REVIEW keyset paging with NULLs (${testBackend()})`, () => {
  let db: TestDatabase;
  let app: Express;
  let who: Caller;

  beforeAll(async () => {
    db = await openTestDatabase();
    app = testApp(db);
    const org = await insertOrganization(db.dataSource, 'Org');
    const births = [null, '1970-01-01', '1970-01-01', null, '2000-02-29', '0044-03-15'];
    const families = [null, 'Ölz', 'olz', 'Zed', null, 'ÖLZ', 'a%', 'a_'];
    for (let i = 0; i < 40; i++) {
      const id = await insertUser(db.dataSource, org, i % 5 === 0 ? (null as unknown as string) : `G${i % 3}`);
      await db.dataSource.query(`UPDATE users SET date_of_birth = $2, last_name = $3 WHERE id = $1`, [id, births[i % births.length], families[i % families.length]]);
    }
    who = caller(app, await backendToken(app, 'rv-keyset', await keyClient(db, 'rv-keyset', 'system/*.rs', org), 'system/*.rs'));
  });
  afterAll(() => db.close());

  it.each(['-birthdate,-name', 'birthdate,-name', '-name,birthdate', 'name', '-_lastUpdated,-birthdate'])('_sort=%s pages exactly like one page', async (sort) => {
    const whole = (await who.get(`/fhir/Patient?_sort=${sort}&_count=1000`).expect(200)).body.entry.map((e: { resource: { id: string } }) => e.resource.id);
    for (const count of [1, 3, 7]) {
      const { ids } = await allPages(who, `/fhir/Patient?_sort=${sort}&_count=${count}`);
      expect(ids).toEqual(whole);
    }
  });
});
