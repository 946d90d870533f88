import type { Bundle } from 'fhir/r4';
import { backendToken, GATEWAY, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { caller, entryIds, issueOf, link, type Caller } from '../support/search';
import { createSearchFixture, type SearchFixture } from '../support/search-fixture';

/**
 * Searches a client got wrong: 400 with an OperationOutcome whose expression names the parameter and
 * whose diagnostics say what to change (never SQL or a stack), unless Prefer: handling=lenient, which
 * drops what is wrong (also from the self link). Hostile input never reaches SQL as text, never
 * causes a 500, and leaves the tables as they were.
 */

/** SQL, view or column names, bind placeholders, file positions or stack frames. */
const INTERNALS = /\b(SELECT|WHERE|FROM|JOIN|ANY)\b|\$\d|\br\.[a-z_]+|fhir_[a-z_]+|biomarker_values|\.ts:\d+|\bat [\w.<>]+ \(|QueryFailedError|syntax error/;

const BAD: [query: string, parameter: string][] = [
  ['Observation?date=notadate', 'date'],
  ['Observation?date=2026-13', 'date'],
  ['Observation?date=2026-03-01T24:00', 'date'],
  ['Observation?date=gx2026', 'date'],
  ['Patient?birthdate=1990-02-30', 'birthdate'],
  ['Observation?_count=-1', '_count'],
  ['Observation?_count=ten', '_count'],
  ['Observation?_count=1.5', '_count'],
  ['Observation?_sort=unknown', '_sort'],
  ['Observation?_sort=date,-shoe', '_sort'],
  ['Patient?_sort=date', '_sort'],
  ["Observation?_sort=date;drop table users;--", '_sort'],
  ['Observation?patient=', 'patient'],
  ['Observation?patient=Group/123', 'patient'],
  ['Observation?patient=http://elsewhere.example/fhir/Patient/7d0e4b1a-1111-4222-8333-944455556666', 'patient'],
  ["Observation?patient=';drop table users;--", 'patient'],
  ["Patient?_id=';drop table users;--", '_id'],
  ["Observation?date=';drop table users;--", 'date'],
  ['Observation?code=', 'code'],
  ['Observation?code=,', 'code'],
  ['Patient?gender=|', 'gender'],
  ['Patient?name=', 'name'],
  ['Patient?name=,', 'name'],
  ['Observation?value-quantity=sa5', 'value-quantity'],
  ['Observation?value-quantity=abc', 'value-quantity'],
  ['Observation?value-quantity=5|http://unitsofmeasure.org', 'value-quantity'],
  ['Patient?name:below=ann', 'name:below'],
  ['Observation?date:exact=2026', 'date:exact'],
  ['Observation?code:below=8867', 'code:below'],
  ['Patient?gender:text=female', 'gender:text'],
  ['Observation?subject:Group=1', 'subject:Group'],
  ['Patient?birthdate:missing=maybe', 'birthdate:missing'],
  ['Observation?shoe-size=42', 'shoe-size'],
  ["Observation?1'or'1=x", "1'or'1"],
  ['Observation?_total=maybe', '_total'],
  ['Observation?_summary=yes', '_summary'],
  ['Observation?_elements=Bad-Name', '_elements'],
  ['Observation?_include=Observation:performer', '_include'],
  ['Observation?_revinclude=Foo:bar', '_revinclude'],
  ['Observation?_cursor=garbage', '_cursor'],
];

/** Each parameter the issue names, per type: every one must answer 200 or a 400 naming it, whatever the value. */
const PARAMETERS: Record<string, string[]> = {
  Patient: ['_id', 'identifier', 'name', 'family', 'given', 'birthdate', 'gender', 'organization', '_lastUpdated'],
  Practitioner: ['_id', 'identifier', 'name'],
  Observation: ['patient', 'subject', 'code', 'category', 'date', 'status', 'value-quantity', '_lastUpdated'],
  DiagnosticReport: ['patient', 'subject', 'category', 'code', 'date', 'status', 'result', '_lastUpdated'],
  Device: ['_id', 'type', 'version'],
  Organization: ['_id', 'name', 'identifier'],
  Provenance: ['target', 'patient'],
};
const HOSTILE = ["'", '"', '\\', '%', '_', '$1', '|', '||', '\\|', 'a,', ')', '(select 1)', "' OR '1'='1", '🙂', 'x'.repeat(3000), 'a\u0000b', '\u0000'];
const MODIFIERS = ['', ':missing', ':not', ':exact', ':contains', ':text'];

describe(`bad search input (${testBackend()})`, () => {
  let db: TestDatabase;
  let platform: Caller;
  let f: SearchFixture;
  let before: Record<string, number>;

  const tableCounts = async (): Promise<Record<string, number>> => {
    const [row] = await db.dataSource.query(
      `SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM organizations)::int AS organizations,
              (SELECT count(*) FROM assessments)::int AS assessments, (SELECT count(*) FROM biomarker_values)::int AS biomarker_values,
              (SELECT count(*) FROM patient_identifiers)::int AS patient_identifiers`,
    );
    return row;
  };

  beforeAll(async () => {
    db = await openTestDatabase();
    const app = testApp(db);
    f = await createSearchFixture(db.dataSource);
    const key = await keyClient(db, 'platform-bad-input', 'system/*.rs', null);
    platform = caller(app, await backendToken(app, 'platform-bad-input', key, 'system/*.rs'));
    before = await tableCounts();
  });
  afterAll(() => db.close());

  const encode = (query: string) => {
    const [type, params] = query.split('?');
    const [name, ...value] = params.split('=');
    return `/fhir/${type}?${encodeURIComponent(name)}=${encodeURIComponent(value.join('='))}`;
  };

  it.each(BAD)('%s -> 400 naming %s, without internals', async (query, parameter) => {
    const res = await platform.get(encode(query));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const issue = issueOf(res.body);
    expect(issue).toMatchObject({ severity: 'error', code: 'invalid', expression: [parameter] });
    expect(issue.diagnostics).toContain(parameter.split(':')[0]);
    expect(issue.diagnostics).not.toMatch(INTERNALS);
  });

  it.each([
    "';drop table users;--",
    "Robert'); DROP TABLE users;--",
    "%' OR '1'='1",
    '\\',
    '$1',
  ])('name=%s is a name like any other: 200, no matches', async (value) => {
    for (const param of ['name', 'family', 'name:exact', 'name:contains']) {
      const res = await platform.get(`/fhir/Patient?${param}=${encodeURIComponent(value)}`);
      expect({ param, status: res.status }).toEqual({ param, status: 200 });
      expect(entryIds(res.body as Bundle)).toEqual([]);
    }
    const tokens = await platform.get(`/fhir/Patient?identifier=${encodeURIComponent(value)}`).expect(200);
    expect(entryIds(tokens.body)).toEqual([]);
  });

  it.each(Object.keys(PARAMETERS))('no value or modifier on a %s parameter causes a 500 (each is 200, or 400 naming it)', async (type) => {
    const wrong: string[] = [];
    for (const parameter of PARAMETERS[type]) {
      for (const modifier of MODIFIERS) {
        for (const value of HOSTILE) {
          const key = `${parameter}${modifier}`;
          const res = await platform.get(`/fhir/${type}?${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
          const show = `${type}?${key}=${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}...` : value)}`;
          if (res.status === 400) {
            // The diagnostics may quote the value back; only what the server adds must be free of internals.
            const issue = res.body.issue?.[0];
            const named = issue?.expression?.[0] === key || issue?.expression?.[0] === parameter;
            if (!named || INTERNALS.test(String(issue?.diagnostics ?? '').split(value).join(''))) wrong.push(`${show} -> 400 ${JSON.stringify(issue)}`);
          } else if (res.status !== 200) {
            wrong.push(`${show} -> ${res.status} ${JSON.stringify(res.body.issue?.[0]?.diagnostics)}`);
          } else if (res.body.resourceType !== 'Bundle') {
            wrong.push(`${show} -> 200 without a Bundle`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('a NUL character (%00) in a string or token value is a 400 naming the parameter, not a 500', async () => {
    for (const [query, parameter] of [
      ['/fhir/Patient?name=a%00b', 'name'],
      ['/fhir/Patient?identifier=MRN%00', 'identifier'],
      ['/fhir/Observation?code=8867-4%00', 'code'],
      ['/fhir/Organization?name=%00', 'name'],
    ]) {
      const res = await platform.get(query);
      expect({ query, status: res.status, expression: res.body.issue?.[0]?.expression }).toEqual({ query, status: 400, expression: [parameter] });
    }
  });

  it('a 500, should one happen, says nothing about SQL or the stack', async () => {
    const res = await platform.get(`/fhir/Patient?name=${encodeURIComponent('a\u0000b')}`);
    if (res.status >= 500) expect(issueOf(res.body)).toEqual({ severity: 'fatal', code: 'exception', diagnostics: 'Internal server error' });
    expect(JSON.stringify(res.body)).not.toMatch(INTERNALS);
  });

  describe('Prefer: handling=lenient', () => {
    it('ignores what is wrong, applies the rest, and leaves the ignored parameters out of the self link', async () => {
      const query = `patient=${f.person.zoe}&date=notadate&shoe-size=42&_sort=unknown&code:below=1&_count=-1`;
      const res = await platform.get(`/fhir/Observation?${query}`, { Prefer: 'handling=lenient' }).expect(200);
      expect(entryIds(res.body).sort()).toEqual([f.observation.hr1, f.observation.qrs1, f.observation.hr2, f.observation.ves3].sort());
      expect(link(res.body, 'self')).toBe(`${GATEWAY}/fhir/Observation?patient=${f.person.zoe}&_count=50`);
    });

    it('keeps a valid value of a parameter whose other occurrence was dropped', async () => {
      const res = await platform.get('/fhir/Patient?name:below=x&name=zoe&birthdate=1990-02-30', { Prefer: 'handling=lenient' }).expect(200);
      expect(entryIds(res.body).sort()).toEqual([f.person.zoe, f.person.zoe2].sort());
      expect(link(res.body, 'self')).toBe(`${GATEWAY}/fhir/Patient?name=zoe&_count=50`);
    });

    it('handling=strict (or no Prefer) answers 400', async () => {
      for (const headers of [{ Prefer: 'handling=strict' }, {}] as Record<string, string>[]) {
        const res = await platform.get(`/fhir/Observation?patient=${f.person.zoe}&date=notadate`, headers).expect(400);
        expect(issueOf(res.body).expression).toEqual(['date']);
      }
    });
  });

  it('after all of the above, every table holds exactly the rows it held before, and searches still work', async () => {
    expect(await tableCounts()).toEqual(before);
    const [{ users }] = await db.dataSource.query(`SELECT to_regclass('public.users') IS NOT NULL AS users`);
    expect(users).toBe(true);
    const res = await platform.get(`/fhir/Patient?_id=${f.person.zoe}`).expect(200);
    expect(entryIds(res.body)).toEqual([f.person.zoe]);
  });
});
