import type { Bundle } from 'fhir/r4';
import { backendToken, GATEWAY, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { allPages, caller, entryIds, issueOf, link, type Caller } from '../support/search';
import { createSearchFixture, type SearchFixture } from '../support/search-fixture';

/**
 * What a search returns besides its filters: _sort (one key, -, several keys, NULLs, ties, across
 * pages), _total, _summary, _elements, the self link, and POST [type]/_search as the same search as GET.
 * Data: the hand-made fixture of support/search-fixture.ts; caller: a backend client of the platform.
 */

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

describe(`search results: sort, total, summary, elements, POST (${testBackend()})`, () => {
  let db: TestDatabase;
  let platform: Caller;
  let f: SearchFixture;
  const nameOf = new Map<string, string>();
  const names = (bundle: Bundle) => entryIds(bundle).map((id) => nameOf.get(id) ?? id);
  /** The two Zoes fold to the same name: ties are broken by id, ascending. */
  let zoes: string[];

  beforeAll(async () => {
    db = await openTestDatabase();
    const app = testApp(db);
    f = await createSearchFixture(db.dataSource);
    for (const [name, id] of Object.entries({ ...f.person, ...f.assessment, ...f.observation })) nameOf.set(id, name);
    const key = await keyClient(db, 'platform-results', 'system/*.rs', null);
    platform = caller(app, await backendToken(app, 'platform-results', key, 'system/*.rs'));
    zoes = [f.person.zoe, f.person.zoe2].sort().map((id) => nameOf.get(id)!);
  });
  afterAll(() => db.close());

  const search = async (path: string) => (await platform.get(path).expect(200)).body as Bundle;

  describe('_sort', () => {
    it.each([
      ['Patient?_sort=birthdate', ['bjorn', 'oliver', 'zoe', 'zoe2', 'ann', 'hannes', 'anon']],
      ['Patient?_sort=-birthdate', ['hannes', 'ann', 'zoe2', 'zoe', 'oliver', 'bjorn', 'anon']],
      ['Patient?_sort=-_lastUpdated', ['oliver', 'anon', 'hannes', 'ann', 'bjorn', 'zoe2', 'zoe']],
      ['Observation?_sort=code,-date', ['hr4', 'hr2', 'hr1', 'jit5', 'mem0', 'nod8', 'pnn50_6', 'qrs1', 'rmssd6', 'sdnn6', 'ves3']],
      ['DiagnosticReport?_sort=-date', ['a4', 'a3', 'a7', 'a5', 'a6', 'a2', 'a1', 'a8', 'a0']],
      ['DiagnosticReport?_sort=code,date', ['a1', 'a2', 'a6', 'a4', 'a0', 'a7', 'a8', 'a3', 'a5']],
    ])('%s returns the matches in exactly this order', async (query, expected) => {
      expect(names(await search(`/fhir/${query}`))).toEqual(expected);
    });

    it('_sort=name orders by family then given, accent-folded; equal names by id; no name last', async () => {
      expect(names(await search('/fhir/Patient?_sort=name'))).toEqual([...zoes, 'hannes', 'bjorn', 'oliver', 'ann', 'anon']);
      expect(names(await search('/fhir/Patient?_sort=-name'))).toEqual(['ann', 'oliver', 'bjorn', 'hannes', ...zoes, 'anon']);
    });

    it('_sort=date breaks ties between equal instants by id', async () => {
      const byId = (...keys: string[]) => keys.map((k) => f.observation[k]).sort().map((id) => nameOf.get(id)!);
      expect(names(await search('/fhir/Observation?_sort=date'))).toEqual([
        'mem0', 'nod8', ...byId('hr1', 'qrs1'), 'hr2', ...byId('sdnn6', 'rmssd6', 'pnn50_6'), 'jit5', 'ves3', 'hr4',
      ]);
    });

    it.each([
      ['Patient?_sort=name', 2],
      ['Patient?_sort=-birthdate', 2],
      ['Observation?_sort=code,-date', 3],
      ['Observation?_sort=date', 2],
    ])('pages of %s with _count=%i keep the order of one big page (ties and NULLs across page breaks)', async (query, count) => {
      const whole = entryIds(await search(`/fhir/${query}&_count=100`));
      const paged = await allPages(platform, `/fhir/${query}&_count=${count}`);
      expect(paged.ids).toEqual(whole);
      expect(paged.pages.length).toBe(Math.ceil(whole.length / count));
      for (const page of paged.pages.slice(0, -1)) expect(entryIds(page)).toHaveLength(count);
    });
  });

  describe('_total', () => {
    it('accurate counts every match, not just the page', async () => {
      const bundle = await search(`/fhir/Observation?patient=${f.person.zoe}&_total=accurate&_count=1`);
      expect(bundle.total).toBe(4);
      expect(entryIds(bundle)).toHaveLength(1);
    });

    it('none (the default) leaves total out; estimate gives a whole number', async () => {
      expect(await search('/fhir/Observation?_total=none')).not.toHaveProperty('total');
      expect(await search('/fhir/Observation')).not.toHaveProperty('total');
      const estimate = await search('/fhir/Observation?category=vital-signs&_total=estimate');
      expect(Number.isInteger(estimate.total)).toBe(true);
      expect(estimate.total).toBeGreaterThanOrEqual(0);
      expect(entryIds(estimate).map((id) => nameOf.get(id)).sort()).toEqual(['hr1', 'hr2', 'hr4']);
    });
  });

  describe('_summary and _elements', () => {
    it('_summary=count answers the number of matches and no entries', async () => {
      const bundle = await search('/fhir/Observation?category=vital-signs&_summary=count');
      expect(bundle.total).toBe(3);
      expect(bundle.entry ?? []).toEqual([]);
      expect(link(bundle, 'next')).toBeUndefined();
    });

    it('_summary=true keeps the summary elements only, tagged SUBSETTED', async () => {
      const full = (await search(`/fhir/DiagnosticReport?_id=${f.assessment.a1}`)).entry![0].resource!;
      expect(full).toHaveProperty('extension');
      const summary = (await search(`/fhir/DiagnosticReport?_id=${f.assessment.a1}&_summary=true`)).entry![0].resource!;
      expect(summary).not.toHaveProperty('extension');
      expect(summary).toMatchObject({ id: f.assessment.a1, status: 'final', subject: { reference: `Patient/${f.person.zoe}` } });
      expect(Object.keys(summary).sort()).toEqual(
        ['resourceType', 'id', 'meta', 'identifier', 'status', 'category', 'code', 'subject', 'effectiveDateTime', 'issued', 'performer', 'result']
          .filter((k) => k in full)
          .sort(),
      );
      expect(summary.meta!.tag).toContainEqual(expect.objectContaining(SUBSETTED));
    });

    it('_summary=data drops only the narrative, tagged SUBSETTED', async () => {
      const full = (await search(`/fhir/DiagnosticReport?_id=${f.assessment.a1}`)).entry![0].resource!;
      const data = (await search(`/fhir/DiagnosticReport?_id=${f.assessment.a1}&_summary=data`)).entry![0].resource!;
      const { meta: _m, text: _t, ...rest } = full as typeof full & { text?: unknown };
      expect(data).toMatchObject(rest);
      expect(data).not.toHaveProperty('text');
      expect(data.meta!.tag).toContainEqual(expect.objectContaining(SUBSETTED));
    });

    it('_elements keeps the named elements (value means value[x]) plus id and meta', async () => {
      const bundle = await search(`/fhir/Observation?_id=${f.observation.hr1}&_elements=value,status`);
      const resource = bundle.entry![0].resource!;
      expect(Object.keys(resource).sort()).toEqual(['id', 'meta', 'resourceType', 'status', 'valueQuantity']);
      expect(resource).toMatchObject({ status: 'final', valueQuantity: { value: 72, unit: '/min' } });
      expect(resource.meta!.tag).toContainEqual(expect.objectContaining(SUBSETTED));
      const patients = await search(`/fhir/Patient?_id=${f.person.zoe}&_elements=birthDate,gender`);
      expect(patients.entry![0].resource).toEqual({
        resourceType: 'Patient',
        id: f.person.zoe,
        meta: expect.objectContaining({ tag: [expect.objectContaining(SUBSETTED)] }),
        birthDate: '1990-03-01',
        gender: 'female',
      });
    });
  });

  describe('the self link and POST _search', () => {
    it('the self link shows the parameters used, in order, with the page size', async () => {
      const bundle = await search(`/fhir/Observation?patient=${f.person.zoe}&code=8867-4&_sort=-date`);
      expect(link(bundle, 'self')).toBe(`${GATEWAY}/fhir/Observation?patient=${f.person.zoe}&code=8867-4&_sort=-date&_count=50`);
    });

    it('POST /fhir/Observation/_search with a form body finds what GET finds', async () => {
      const form = `patient=${f.person.zoe}&category=${encodeURIComponent('http://terminology.hl7.org/CodeSystem/observation-category|vital-signs')}&date=ge2026-03`;
      const viaGet = await search(`/fhir/Observation?${form}`);
      const viaPost = (await platform.post('/fhir/Observation/_search', form).expect(200)).body as Bundle;
      expect(names(viaGet)).toEqual(['hr2']);
      expect(viaPost.entry).toEqual(viaGet.entry);
      expect(link(viaPost, 'self')).toBe(link(viaGet, 'self'));
    });

    it('POST _search pages with next links like GET, and applies URL and body parameters together', async () => {
      const viaPost = (await platform.post('/fhir/Observation/_search?_sort=date', `patient=${f.person.zoe}&_count=2`).expect(200)).body as Bundle;
      expect(names(viaPost)).toEqual(['hr1', 'qrs1'].map((k) => f.observation[k]).sort().map((id) => nameOf.get(id)));
      const rest = await allPages(platform, new URL(link(viaPost, 'next')!).pathname + new URL(link(viaPost, 'next')!).search);
      expect(rest.ids.map((id) => nameOf.get(id))).toEqual(['hr2', 'ves3']);
    });

    it('POST _search with a bad parameter in the body is the same 400 as GET', async () => {
      const res = await platform.post('/fhir/Observation/_search', 'date=notadate').expect(400);
      expect(issueOf(res.body)).toMatchObject({ code: 'invalid', expression: ['date'] });
    });

    it('POST _search refuses a body that is not a form', async () => {
      const res = await platform.post('/fhir/Observation/_search', '{"patient":"x"}', { 'Content-Type': 'application/json' });
      expect(res.status).toBe(415);
      expect(issueOf(res.body).code).toBe('not-supported');
    });
  });
});
