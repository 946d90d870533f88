import crypto from 'node:crypto';
import type { Bundle } from 'fhir/r4';
import { seedReferenceData } from '../../src/db/seed';
import { backendToken, GATEWAY, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization } from '../support/fixtures';
import { allPages, caller, entryIds, issueOf, link, pathOf, type Caller } from '../support/search';

/**
 * Keyset paging over more than a thousand matches: every row that existed when paging began comes
 * back exactly once, in the order SQL gives, while other clients insert matching rows between and
 * during the page requests; _count defaults and caps; cursors are signed, bound to their search and
 * opaque.
 *
 * Data (organization A): 1,100 heart-rate Observations (vital-signs) on 97 distinct instants, so that
 * most share their date with others; every tenth assessment also has a QRS duration (procedure).
 * Organization B has matching rows that must never appear.
 */

const ROWS = 1_100;
const FAMILIES = ['Nguyen', 'Smith', 'Garcia', 'smith', 'Chen', null];

describe(`keyset paging (${testBackend()})`, () => {
  let db: TestDatabase;
  let api: Caller;
  let orgA: string;
  let patients: string[];

  /** n matching (heart-rate) Observations for organization A's patients at these instants, in one transaction. */
  async function insertHeartRates(org: string, users: string[], at: (i: number) => string, n: number, tag: string = crypto.randomUUID()): Promise<void> {
    await db.dataSource.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type, status, created_at)
         SELECT $1 || '_' || i, ($2::uuid[])[1 + i % cardinality($2::uuid[])], $3, 'cardiology', 'completed', ($4::timestamptz[])[i + 1]
           FROM generate_series(0, $5::int - 1) i`,
        [tag, users, org, Array.from({ length: n }, (_, i) => at(i)), n],
      );
      await tx.query(
        `INSERT INTO biomarker_values (assessment_id, biomarker_name, value, unit)
         SELECT id, 'heart_rate', 60 + (random() * 40)::int, '/min' FROM assessments WHERE session_id LIKE $1 || '\\_%'
         UNION ALL
         SELECT id, 'qrs_duration', 90, 'ms' FROM assessments WHERE session_id LIKE $1 || '\\_%' AND split_part(session_id, '_', 2)::int % 10 = 0`,
        [tag],
      );
    });
  }
  const hour = (base: string, hours: number) => new Date(Date.parse(base) + hours * 3_600_000).toISOString();

  async function vitalSignsOfA(order = 'bv.id'): Promise<string[]> {
    const rows = await db.dataSource.query(
      `SELECT bv.id FROM biomarker_values bv JOIN assessments a ON a.id = bv.assessment_id
        WHERE a.organization_id = $1 AND a.deleted_at IS NULL AND bv.biomarker_name = 'heart_rate' ORDER BY ${order}`,
      [orgA],
    );
    return rows.map((r: { id: string }) => r.id);
  }

  beforeAll(async () => {
    db = await openTestDatabase();
    const app = testApp(db);
    await seedReferenceData(db.dataSource);
    orgA = await insertOrganization(db.dataSource, 'Clinic A');
    const orgB = await insertOrganization(db.dataSource, 'Clinic B');
    patients = [];
    for (let i = 0; i < 24; i++) {
      const birth = i % 7 === 6 ? null : `19${60 + (i % 5)}-0${1 + (i % 3)}-15`;
      patients.push(
        await db.dataSource.transaction(async (tx) => {
          const [{ id }] = await tx.query(
            `INSERT INTO users (clerk_user_id, first_name, last_name, date_of_birth, organization_id) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
            [`user_${crypto.randomUUID()}`, ['Ann', 'Bo', 'ann'][i % 3], FAMILIES[i % FAMILIES.length], birth, orgA],
          );
          await tx.query(`INSERT INTO user_roles (user_id, role_id, organization_id) SELECT $1, id, $2 FROM roles WHERE name = 'patient'`, [id, orgA]);
          return id;
        }),
      );
    }
    await insertHeartRates(orgA, patients, (i) => hour('2025-01-01T00:00:00Z', i % 97), ROWS, 'base');
    const [{ id: stranger }] = await db.dataSource.query(`INSERT INTO users (first_name, organization_id) VALUES ('B', $1) RETURNING id`, [orgB]);
    await insertHeartRates(orgB, [stranger], (i) => hour('2025-01-01T00:00:00Z', i), 30, 'other');
    // Fresh statistics, as autovacuum would have them: without, Postgres plans the view for one row.
    await db.dataSource.query('ANALYZE users, assessments, biomarker_values');
    const key = await keyClient(db, 'paging-client', 'system/*.rs', orgA);
    api = caller(app, await backendToken(app, 'paging-client', key, 'system/*.rs'));
  }, 120_000);
  afterAll(() => db.close());

  /** Follows next links; each page request runs at the same time as an insert of `perPage` matching rows. */
  async function pageWhileInserting(path: string, perPage: number, at: (page: number, i: number) => string): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let next: string | undefined = path;
    let pages = 0;
    while (next !== undefined) {
      const page = pages;
      const [res] = await Promise.all([api.get(next), insertHeartRates(orgA, patients, (i) => at(page, i), perPage)]);
      expect(res.status).toBe(200);
      pages++;
      ids.push(...entryIds(res.body as Bundle));
      const url = link(res.body as Bundle, 'next');
      next = url === undefined ? undefined : pathOf(url);
    }
    return { ids, pages };
  }

  const duplicates = (ids: string[]) => ids.filter((id, i) => ids.indexOf(id) !== i);

  it('_sort=code,-date (two keys) pages in the order SQL gives', async () => {
    const expected = await db.dataSource.query(
      `SELECT bv.id FROM biomarker_values bv JOIN assessments a ON a.id = bv.assessment_id
        WHERE a.organization_id = $1 AND a.deleted_at IS NULL ORDER BY bv.biomarker_name ASC, a.created_at DESC, bv.id ASC`,
      [orgA],
    );
    const { ids, pages } = await allPages(api, '/fhir/Observation?_sort=code,-date&_count=250');
    expect(ids).toEqual(expected.map((r: { id: string }) => r.id));
    expect(pages.length).toBe(Math.ceil(expected.length / 250));
  });

  it('_sort=-birthdate,name (ties, NULL birth dates and names) pages in the order SQL gives', async () => {
    const expected = await db.dataSource.query(
      `SELECT u.id FROM users u WHERE u.organization_id = $1 AND u.deleted_at IS NULL
        ORDER BY u.date_of_birth DESC NULLS LAST, lower(u.last_name) ASC NULLS LAST, lower(u.first_name) ASC NULLS LAST, u.id ASC`,
      [orgA],
    );
    expect((await allPages(api, '/fhir/Patient?_sort=-birthdate,name&_count=5')).ids).toEqual(expected.map((r: { id: string }) => r.id));
    expect((await allPages(api, '/fhir/Patient?_sort=-birthdate,name&_count=1000')).ids).toEqual(expected.map((r: { id: string }) => r.id));
  });

  it('_count: 50 by default, at most 1000 (the self link says so), 0 for the total alone', async () => {
    const byDefault = (await api.get('/fhir/Observation?category=vital-signs').expect(200)).body as Bundle;
    expect(entryIds(byDefault)).toHaveLength(50);
    expect(link(byDefault, 'self')).toBe(`${GATEWAY}/fhir/Observation?category=vital-signs&_count=50`);
    expect(link(byDefault, 'next')).toContain('_count=50');
    const capped = (await api.get('/fhir/Observation?category=vital-signs&_count=5000').expect(200)).body as Bundle;
    expect(entryIds(capped)).toHaveLength(1000);
    expect(link(capped, 'self')).toBe(`${GATEWAY}/fhir/Observation?category=vital-signs&_count=1000`);
    const none = (await api.get('/fhir/Observation?category=vital-signs&_count=0&_total=accurate').expect(200)).body as Bundle;
    expect(none.entry ?? []).toEqual([]);
    expect(none.total).toBe((await vitalSignsOfA()).length);
    expect(link(none, 'next')).toBeUndefined();
  });

  describe('cursors', () => {
    const SEARCH = '/fhir/Observation?category=vital-signs&_sort=-date&_count=20';
    let cursor: string;
    let secondPage: string[];

    beforeAll(async () => {
      const first = (await api.get(SEARCH).expect(200)).body as Bundle;
      cursor = new URL(link(first, 'next')!).searchParams.get('_cursor')!;
      secondPage = entryIds((await api.get(`${SEARCH}&_cursor=${encodeURIComponent(cursor)}`).expect(200)).body);
      expect(secondPage).toHaveLength(20);
    });

    it('the same cursor gives the same page again (no server-side state)', async () => {
      expect(entryIds((await api.get(`${SEARCH}&_cursor=${encodeURIComponent(cursor)}`).expect(200)).body)).toEqual(secondPage);
    });

    it.each([
      ['a tampered authentication tag', (c: string) => c.slice(0, -1) + (c.endsWith('A') ? 'B' : 'A'), SEARCH],
      ['a tampered ciphertext', (c: string) => c.slice(0, 20) + (c[20] === 'A' ? 'B' : 'A') + c.slice(21), SEARCH],
      ['a forged plain position', () => Buffer.from(JSON.stringify(['2030-01-01 00:00:00+00', '00000000-0000-4000-8000-000000000000'])).toString('base64url'), SEARCH],
      ['a truncated cursor', (c: string) => c.slice(0, -8), SEARCH],
      ['another search (other filter)', (c: string) => c, '/fhir/Observation?category=procedure&_sort=-date&_count=20'],
      ['another search (other sort)', (c: string) => c, '/fhir/Observation?category=vital-signs&_sort=date&_count=20'],
      ['another search (other page size)', (c: string) => c, '/fhir/Observation?category=vital-signs&_sort=-date&_count=21'],
      ['another resource type', (c: string) => c, '/fhir/DiagnosticReport?category=vital-signs&_sort=-date&_count=20'],
      ['an empty cursor', () => '', SEARCH],
    ])('%s -> 400 naming _cursor', async (_what, tamper, search) => {
      const res = await api.get(`${search}&_cursor=${encodeURIComponent(tamper(cursor))}`);
      expect(res.status).toBe(400);
      expect(issueOf(res.body)).toMatchObject({ code: 'invalid', expression: ['_cursor'] });
    });

    it('is opaque: it does not spell out the sort values (names, birth dates) of the last row', async () => {
      const page = (await api.get('/fhir/Patient?_sort=name,birthdate&_count=3').expect(200)).body as Bundle;
      const last = page.entry!.at(-1)!.resource as { name?: { family?: string }[]; birthDate?: string };
      const token = new URL(link(page, 'next')!).searchParams.get('_cursor')!;
      const readable = token
        .split('.')
        .map((part) => Buffer.from(part, 'base64url').toString('latin1'))
        .join(' ')
        .toLowerCase();
      expect(readable).not.toContain(last.name![0].family!.toLowerCase());
      expect(readable).not.toContain(last.birthDate!);
    });
  });

  // Last: on a backend that mishandles concurrent connections, what goes wrong here must not spill into the tests above.
  describe('while other clients search and write at the same time', () => {
    it('the same pages requested by several clients at once all succeed, with the same rows', async () => {
      const first = (await api.get('/fhir/Observation?category=vital-signs&_count=100').expect(200)).body as Bundle;
      const next = pathOf(link(first, 'next')!);
      const answers = await Promise.all([...Array(4)].flatMap(() => [api.get('/fhir/Observation?category=vital-signs&_count=100'), api.get(next)]));
      expect(answers.map((res) => res.status)).toEqual(Array(8).fill(200));
      const expected = entryIds(((await api.get(next).expect(200)).body) as Bundle);
      for (const [i, res] of answers.entries()) expect(entryIds(res.body)).toEqual(i % 2 ? expected : entryIds(first));
    });

    it('pages through 1,100+ matches in id order: each row present at the start exactly once, while rows are inserted', async () => {
      const before = await vitalSignsOfA();
      expect(before.length).toBeGreaterThanOrEqual(ROWS);
      // New rows get random ids: some sort before the cursor (never seen), some after (seen once).
      const { ids, pages } = await pageWhileInserting('/fhir/Observation?category=vital-signs&_count=100', 10, (page) => hour('2025-06-01T00:00:00Z', page));
      expect(duplicates(ids)).toEqual([]);
      expect(ids.filter((id) => before.includes(id))).toEqual(before);
      expect(pages).toBeGreaterThanOrEqual(Math.ceil(before.length / 100));
      expect(ids.length).toBeGreaterThan(before.length); // some of the newcomers were reached
    });

    it('_sort=-date pages in SQL order (date descending, id ascending): each earlier row once, newcomers on either side of the cursor', async () => {
      const before = await vitalSignsOfA('a.created_at DESC, bv.id ASC');
      // Each page's newcomers: half later than everything (before the cursor: never returned; not on the
      // first page, which is read while they are written), half among the existing instants (maybe after
      // the cursor: returned at most once).
      const { ids } = await pageWhileInserting('/fhir/Observation?category=vital-signs&_sort=-date&_count=73', 4, (page, i) =>
        i % 2 && page > 0 ? hour('2026-01-01T00:00:00Z', page) : hour('2025-01-01T00:00:00Z', (page * 13) % 97),
      );
      expect(duplicates(ids)).toEqual([]);
      expect(ids.filter((id) => before.includes(id))).toEqual(before);
      const later = await db.dataSource.query(`SELECT bv.id FROM biomarker_values bv JOIN assessments a ON a.id = bv.assessment_id WHERE a.created_at >= '2026-01-01'`);
      expect(ids.filter((id) => later.some((r: { id: string }) => r.id === id))).toEqual([]);
    });
  });
});
