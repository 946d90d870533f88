import type { Bundle } from 'fhir/r4';
import { REFERENCE_MODELS } from '../../src/db/seed';
import { backendToken, GATEWAY, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { caller, entryIds, type Caller } from '../support/search';
import { createSearchFixture, HOSPITAL_MRN, OTHER_MRN, PATIENTS, type SearchFixture } from '../support/search-fixture';

/**
 * Every search parameter of every resource type, by parameter TYPE (token, date, reference, string,
 * quantity) with its modifiers and prefixes, against the hand-made fixture of support/search-fixture.ts.
 * Each row is a query and the exact set of fixture rows it must find (by their fixture names). The
 * caller is a backend client of the whole platform, so only the parameters decide.
 */

const BASE = `${GATEWAY}/fhir`;
const MEDILENS = 'https://fhir.medilens.ai';
const USER_ID = `${MEDILENS}/sid/user-id`;
const ORG_ID = `${MEDILENS}/sid/organization-id`;
const PIPELINE = `${MEDILENS}/CodeSystem/pipeline`;
const BIOMARKER = `${MEDILENS}/CodeSystem/biomarker`;
const REPORT = `${MEDILENS}/CodeSystem/report`;
const GENDER = 'http://hl7.org/fhir/administrative-gender';
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const AI_DEVICE = 'http://hl7.org/fhir/uv/aitransparency/CodeSystem/AIdeviceTypeCS|Artificial-Intelligence';
const UCUM = 'http://unitsofmeasure.org';
const LOINC = 'http://loinc.org';

const ALL_PATIENTS = PATIENTS as string[];
const ALL_OBSERVATIONS = ['mem0', 'hr1', 'qrs1', 'hr2', 'ves3', 'hr4', 'jit5', 'sdnn6', 'rmssd6', 'pnn50_6', 'nod8'];
const without = (all: string[], ...keys: string[]) => all.filter((k) => !keys.includes(k));

type Row = [query: string, expected: string[]];

const PATIENT_ROWS: Row[] = [
  // token
  ['Patient?_id={zoe},{bjorn}', ['zoe', 'bjorn']],
  ['Patient?_id={clara}', []],
  ['Patient?_id=not-a-uuid', []],
  [`Patient?identifier=${USER_ID}|{ann}`, ['ann']],
  ['Patient?identifier={ann}', ['ann']],
  [`Patient?identifier=${HOSPITAL_MRN}|MRN-001`, ['bjorn']],
  ['Patient?identifier=MRN-001', ['bjorn', 'hannes']],
  [`Patient?identifier=${HOSPITAL_MRN}|`, ['bjorn', 'ann']],
  ['Patient?identifier=|MRN-001', []],
  [`Patient?identifier=${OTHER_MRN}|X\\|Y`, ['hannes']],
  ['Patient?identifier=MRN-001,MRN-002', ['bjorn', 'hannes', 'ann']],
  [`Patient?identifier:not=${HOSPITAL_MRN}|`, ['zoe', 'zoe2', 'hannes', 'anon', 'oliver']],
  ['Patient?gender=female', ['zoe', 'zoe2', 'ann']],
  [`Patient?gender=${GENDER}|male`, ['bjorn', 'hannes']],
  ['Patient?gender=|male', []],
  [`Patient?gender=${GENDER}|`, ALL_PATIENTS],
  ['Patient?gender=http://example.org/gender|male', []],
  ['Patient?gender:not=female', ['bjorn', 'hannes', 'anon', 'oliver']],
  ['Patient?gender=male,other', ['bjorn', 'hannes', 'oliver']],
  ['Patient?gender=unknown', ['anon']],
  ['Patient?gender=female&gender:not=female', []],
  // string: starts-with, case- and accent-insensitive; :exact; :contains
  ['Patient?name=zoe', ['zoe', 'zoe2']],
  ['Patient?name=ZOË', ['zoe', 'zoe2']],
  ['Patient?name=Ångström', ['zoe', 'zoe2']],
  ['Patient?name=angs', ['zoe', 'zoe2']],
  ['Patient?family=ANGSTROM', ['zoe', 'zoe2']],
  ['Patient?given=angstrom', []],
  ['Patient?name:exact=Ångström', ['zoe']],
  ['Patient?name:exact=ångström', []],
  ['Patient?name:exact=Angs', []],
  ['Patient?name:contains=ANN', ['ann', 'hannes']],
  ['Patient?name:contains=gström', ['zoe', 'zoe2']],
  ['Patient?name=ann', ['ann']],
  ['Patient?given=ann', ['ann']],
  ['Patient?name=O_', []],
  ['Patient?name=%', []],
  ['Patient?name=zoe,björn', ['zoe', 'zoe2', 'bjorn']],
  ['Patient?name=zoe&name=angstrom', ['zoe', 'zoe2']],
  ['Patient?name=zoe&family=smith', []],
  ['Patient?gender=female&name=angstrom', ['zoe', 'zoe2']],
  ['Patient?gender=male&name=angstrom', []],
  // date on a day (birthdate): the value's precision is the interval it names
  ['Patient?birthdate=1990', ['zoe', 'zoe2', 'ann', 'oliver']],
  ['Patient?birthdate=1990-03', ['zoe', 'zoe2']],
  ['Patient?birthdate=1990-03-01', ['zoe']],
  ['Patient?birthdate=eq1990-03-31', ['zoe2']],
  ['Patient?birthdate=gt1990-03', ['ann', 'hannes']],
  ['Patient?birthdate=ge1990-03', ['zoe', 'zoe2', 'ann', 'hannes']],
  ['Patient?birthdate=lt1990-03', ['bjorn', 'oliver']],
  ['Patient?birthdate=le1990-03', ['zoe', 'zoe2', 'bjorn', 'oliver']],
  ['Patient?birthdate=sa1990-03-01', ['zoe2', 'ann', 'hannes']],
  ['Patient?birthdate=eb1990-03-01', ['bjorn', 'oliver']],
  ['Patient?birthdate=1990-02-28,2000-12-31', ['oliver', 'hannes']],
  ['Patient?birthdate=ge1990&birthdate=lt1990-04', ['zoe', 'zoe2', 'oliver']],
  ['Patient?birthdate=1990-03-01&name=zoe', ['zoe']],
  // A resource without a birth date has no value that differs from the one searched for.
  ['Patient?birthdate=ne1990-03', ['bjorn', 'ann', 'hannes', 'oliver']],
  // Years below 100 are years, not 19xx (JavaScript's Date.UTC quirk).
  ['Patient?birthdate=0085-02-28', []],
  // reference
  ['Patient?organization={orgA}', ['zoe', 'zoe2', 'bjorn', 'oliver']],
  ['Patient?organization=Organization/{orgB}', ['ann', 'hannes']],
  [`Patient?organization=${BASE}/Organization/{orgA}`, ['zoe', 'zoe2', 'bjorn', 'oliver']],
  ['Patient?organization={orgA},Organization/{orgB}', without(ALL_PATIENTS, 'anon')],
  // :missing
  ['Patient?organization:missing=true', ['anon']],
  ['Patient?name:missing=true', ['anon']],
  ['Patient?birthdate:missing=true', ['anon']],
  ['Patient?family:missing=false', without(ALL_PATIENTS, 'anon')],
  // _lastUpdated (an instant)
  ['Patient?_lastUpdated=2025-06-30', ['zoe2']],
  ['Patient?_lastUpdated=lt2025-07', ['zoe', 'zoe2']],
  ['Patient?_lastUpdated=2025-07-01T02:00:00+02:00', ['bjorn']],
  ['Patient?_lastUpdated=ge2025-09', ['ann', 'hannes', 'anon', 'oliver']],
];

const PRACTITIONER_ROWS: Row[] = [
  ['Practitioner?name=ångström', ['clara']],
  ['Practitioner?name=zoe', []],
  ['Practitioner?_id={clara},{zoe}', ['clara']],
  [`Practitioner?identifier=${USER_ID}|{clara}`, ['clara']],
  ['Practitioner?identifier=http://other.example|{clara}', []],
];

const OBSERVATION_ROWS: Row[] = [
  // reference: id, Type/id, absolute URL on this base, :Type
  ['Observation?patient={zoe}', ['hr1', 'qrs1', 'hr2', 'ves3']],
  ['Observation?subject=Patient/{zoe}', ['hr1', 'qrs1', 'hr2', 'ves3']],
  ['Observation?subject:Patient={zoe}', ['hr1', 'qrs1', 'hr2', 'ves3']],
  [`Observation?patient=${BASE}/Patient/{zoe}`, ['hr1', 'qrs1', 'hr2', 'ves3']],
  ['Observation?patient={zoe},Patient/{ann}', ['hr1', 'qrs1', 'hr2', 'ves3', 'jit5']],
  ['Observation?patient=7d0e4b1a-1111-4222-8333-944455556666', []],
  // token: code, system|code, |code, system|, :not, :text
  ['Observation?code=8867-4', ['hr1', 'hr2', 'hr4']],
  [`Observation?code=${LOINC}|8867-4`, ['hr1', 'hr2', 'hr4']],
  [`Observation?code=${BIOMARKER}|heart_rate`, ['hr1', 'hr2', 'hr4']],
  ['Observation?code=heart_rate', ['hr1', 'hr2', 'hr4']],
  ['Observation?code=|8867-4', []],
  [`Observation?code=${LOINC}|`, ['hr1', 'qrs1', 'hr2', 'hr4', 'sdnn6']],
  ['Observation?code=8867-4,8633-0', ['hr1', 'hr2', 'hr4', 'qrs1']],
  [`Observation?code:not=${LOINC}|8867-4`, without(ALL_OBSERVATIONS, 'hr1', 'hr2', 'hr4')],
  ['Observation?code:text=heart', ['hr1', 'hr2', 'hr4']],
  ['Observation?code:text=QRS', ['qrs1']],
  ['Observation?code:text=vessel dens', ['ves3']],
  ['Observation?category=vital-signs', ['hr1', 'hr2', 'hr4']],
  [`Observation?category=${OBS_CATEGORY}|procedure`, ['qrs1', 'sdnn6', 'rmssd6', 'pnn50_6']],
  ['Observation?category=imaging', ['ves3', 'nod8']],
  ['Observation?category=exam', ['jit5']],
  ['Observation?category=survey', ['mem0']],
  ['Observation?category=laboratory', []],
  [`Observation?category=${PIPELINE}|cardiology`, ['hr1', 'qrs1', 'hr2', 'hr4', 'sdnn6', 'rmssd6', 'pnn50_6']],
  ['Observation?category:not=vital-signs', without(ALL_OBSERVATIONS, 'hr1', 'hr2', 'hr4')],
  ['Observation?status=final', ['mem0', 'hr1', 'qrs1', 'ves3', 'jit5', 'nod8']],
  ['Observation?status=preliminary', ['hr2', 'sdnn6', 'rmssd6', 'pnn50_6']],
  ['Observation?status=cancelled', ['hr4']],
  ['Observation?status=final,cancelled', ['mem0', 'hr1', 'qrs1', 'ves3', 'jit5', 'nod8', 'hr4']],
  ['Observation?status=http://hl7.org/fhir/observation-status|preliminary', ['hr2', 'sdnn6', 'rmssd6', 'pnn50_6']],
  ['Observation?status=amended', []],
  // date on an instant: precision, prefixes, offsets, month and day boundaries
  ['Observation?date=2026-03', ['hr2', 'ves3', 'jit5', 'sdnn6', 'rmssd6', 'pnn50_6']],
  ['Observation?date=2026-03-01', ['hr2']],
  ['Observation?date=2026-02-28', ['hr1', 'qrs1']],
  ['Observation?date=2026-03-31', ['ves3']],
  ['Observation?date=2026-03-31T23:59:59Z', ['ves3']],
  ['Observation?date=2026-03-31T23:59:59.999Z', ['ves3']],
  ['Observation?date=2026-03-31T23:59:59.998Z', []],
  ['Observation?date=2026-03-01T00:30+01:00', ['hr1', 'qrs1']],
  ['Observation?date=2026-03-01T01:00:00+01:00', ['hr2']],
  ['Observation?date=2026-03-15T12:00:00+02:00', ['jit5']],
  ['Observation?date=2026-03-15T12:00:00Z', []],
  ['Observation?date=2026-02-28T18:30-05:00', ['hr1', 'qrs1']],
  ['Observation?date=2026-03-31T20:00:00-04:00', ['hr4']],
  ['Observation?date=lt2026-04-01T00:00:00+00:30', ['mem0', 'hr1', 'qrs1', 'hr2', 'jit5', 'sdnn6', 'rmssd6', 'pnn50_6', 'nod8']],
  ['Observation?date=gt2026-03', ['hr4']],
  ['Observation?date=ge2026-03', ['hr2', 'ves3', 'hr4', 'jit5', 'sdnn6', 'rmssd6', 'pnn50_6']],
  ['Observation?date=lt2026-03', ['mem0', 'hr1', 'qrs1', 'nod8']],
  ['Observation?date=le2026-03', without(ALL_OBSERVATIONS, 'hr4')],
  ['Observation?date=ne2026-03', ['mem0', 'hr1', 'qrs1', 'hr4', 'nod8']],
  ['Observation?date=sa2026-03-01', ['ves3', 'hr4', 'jit5', 'sdnn6', 'rmssd6', 'pnn50_6']],
  ['Observation?date=eb2026-03-01', ['mem0', 'hr1', 'qrs1', 'nod8']],
  ['Observation?date=ap2020-01-01', ['mem0']],
  ['Observation?date=2026-02-28,2026-04-01', ['hr1', 'qrs1', 'hr4']],
  ['Observation?date=ge2026-03-01&date=lt2026-03-15', ['hr2', 'sdnn6', 'rmssd6', 'pnn50_6']],
  ['Observation?_lastUpdated=lt2026-03', ['mem0', 'hr1', 'qrs1', 'nod8']],
  // quantity: [prefix]number[|system|code]; eq honours the number's precision
  ['Observation?value-quantity=72', ['hr1']],
  [`Observation?value-quantity=72|${UCUM}|/min`, ['hr1']],
  [`Observation?value-quantity=58|${UCUM}|/min`, ['hr2']],
  [`Observation?value-quantity=ge58|${UCUM}|/min`, ['hr1', 'hr2', 'hr4']],
  ['Observation?value-quantity=gt100', ['hr4']],
  ['Observation?value-quantity=lt1', ['ves3', 'mem0']],
  ['Observation?value-quantity=le1.25', ['ves3', 'mem0', 'jit5']],
  ['Observation?value-quantity=5.4', ['sdnn6', 'pnn50_6']],
  ['Observation?value-quantity=5.40', ['sdnn6']],
  ['Observation?value-quantity=5.4||ms', ['sdnn6']],
  [`Observation?value-quantity=5.4|${UCUM}|%`, ['pnn50_6']],
  ['Observation?value-quantity=96||ms', ['qrs1']],
  [`Observation?value-quantity=96|${UCUM}|s`, []],
  ['Observation?value-quantity=ap100', ['qrs1', 'hr4']],
  ['Observation?value-quantity=ne72', without(ALL_OBSERVATIONS, 'hr1')],
  ['Observation?value-quantity=72,110', ['hr1', 'hr4']],
  // Exponential notation: the significant figures are the precision (FHIR R4 §3.1.1.4.1: 1e2 is [50, 150)).
  ['Observation?value-quantity=7.2e1', ['hr1']],
  ['Observation?value-quantity=1e2', ['hr1', 'qrs1', 'hr2', 'hr4']],
  ['Observation?value-quantity=gt50&value-quantity=lt100', ['hr1', 'qrs1', 'hr2']],
];

const REPORT_ROWS: Row[] = [
  ['DiagnosticReport?patient={zoe}', ['a1', 'a2', 'a3']],
  ['DiagnosticReport?subject=Patient/{zoe2}', ['a4', 'a6']],
  [`DiagnosticReport?category=${LOINC}|LP29708-2`, ['a1', 'a2', 'a4', 'a6']],
  ['DiagnosticReport?category=LP29684-5', ['a8']],
  ['DiagnosticReport?category=http://terminology.hl7.org/CodeSystem/v2-0074|IMG', ['a3', 'a7']],
  [`DiagnosticReport?category=${PIPELINE}|speech`, ['a5']],
  [`DiagnosticReport?code=${LOINC}|11524-6`, ['a1', 'a2', 'a4', 'a6']],
  [`DiagnosticReport?code=${REPORT}|cognitive`, ['a0']],
  ['DiagnosticReport?status=final', ['a0', 'a1', 'a3', 'a5', 'a8']],
  ['DiagnosticReport?status=preliminary', ['a2']],
  ['DiagnosticReport?status=cancelled', ['a4']],
  ['DiagnosticReport?status=registered,partial', ['a6', 'a7']],
  ['DiagnosticReport?date=2026-03', ['a2', 'a3', 'a5', 'a6', 'a7']],
  ['DiagnosticReport?date=lt2026-03-01T00:00:00Z', ['a0', 'a1', 'a8']],
  [`DiagnosticReport?patient={zoe}&category=${LOINC}|LP29708-2&date=ge2026-03`, ['a2']],
  ['DiagnosticReport?result=Observation/{hr1}', ['a1']],
  ['DiagnosticReport?result={qrs1},{ves3}', ['a1', 'a3']],
  ['DiagnosticReport?result:missing=true', ['a7']],
  ['DiagnosticReport?_lastUpdated=2026-03', ['a2', 'a3', 'a5', 'a6', 'a7']],
];

const OTHER_ROWS: Row[] = [
  ['Provenance?patient={zoe}', ['a1', 'a2', 'a3']],
  ['Provenance?target=DiagnosticReport/{a1}', ['a1']],
  ['Provenance?target=Observation/{ves3}', ['a3']],
  ['Provenance?target=DiagnosticReport/{a4}', []],
  ['Provenance?target={a5}', ['a5']],
  ['Provenance?target=DiagnosticReport/{a1},Observation/{jit5}', ['a1', 'a5']],
  ['Device?_id={device-cardiology}', ['device-cardiology']],
  [`Device?type=${PIPELINE}|cardiology`, ['device-cardiology']],
  [`Device?type=${AI_DEVICE}`, REFERENCE_MODELS.map((m) => `device-${m.pipeline}`)],
  ['Device?version=2.1.0', ['device-cardiology']],
  ['Device?version=1.5.0,4.0.0', ['device-radiology', 'device-retinal']],
  ['Device?version=9.9.9', []],
  ['Organization?_id={orgA}', ['orgA']],
  ['Organization?name=north', ['orgA']],
  ['Organization?name=ARZTE', ['orgB']],
  ['Organization?name=ärztehaus süd', ['orgB']],
  ['Organization?name:exact=Ärztehaus Süd', ['orgB']],
  ['Organization?name:exact=Arztehaus Sud', []],
  ['Organization?name:contains=haus', ['orgB']],
  [`Organization?identifier=${ORG_ID}|{orgB}`, ['orgB']],
];

describe(`search parameters by type (${testBackend()})`, () => {
  let db: TestDatabase;
  let platform: Caller;
  let fixture: SearchFixture;
  /** Fixture name -> id, and back. */
  const idOf = new Map<string, string>();
  const nameOf = new Map<string, string>();

  beforeAll(async () => {
    db = await openTestDatabase();
    const app = testApp(db);
    fixture = await createSearchFixture(db.dataSource);
    const named: Record<string, string> = {
      ...fixture.person,
      ...fixture.assessment,
      ...fixture.observation,
      orgA: fixture.org.A,
      orgB: fixture.org.B,
      ...Object.fromEntries(REFERENCE_MODELS.map((m) => [`device-${m.pipeline}`, m.id])),
    };
    for (const [name, id] of Object.entries(named)) {
      idOf.set(name, id);
      nameOf.set(id, name);
    }
    const key = await keyClient(db, 'platform-search', 'system/*.rs', null);
    platform = caller(app, await backendToken(app, 'platform-search', key, 'system/*.rs'));
  });
  afterAll(() => db.close());

  /** The query with {name} replaced by the fixture id, each value percent-encoded. */
  function url(query: string): string {
    const [type, params] = query.split('?');
    const fill = (text: string) => text.replace(/\{([\w-]+)\}/g, (_, name: string) => idOf.get(name) ?? `?${name}?`);
    const encoded = params.split('&').map((pair) => {
      const eq = pair.indexOf('=');
      return `${pair.slice(0, eq)}=${encodeURIComponent(fill(pair.slice(eq + 1)))}`;
    });
    return `/fhir/${type}?${encoded.join('&')}&_count=1000`;
  }

  async function matches(query: string): Promise<string[]> {
    const res = await platform.get(url(query));
    expect({ status: res.status, issue: res.body.issue }).toEqual({ status: 200, issue: undefined });
    const bundle = res.body as Bundle;
    expect(bundle.link?.some((l) => l.relation === 'next')).toBe(false);
    return entryIds(bundle)
      .map((id) => nameOf.get(id) ?? id)
      .sort();
  }

  const title = ([query, expected]: Row) => `${query} -> [${expected.join(', ')}]`;
  describe.each([
    ['Patient', PATIENT_ROWS],
    ['Practitioner', PRACTITIONER_ROWS],
    ['Observation', OBSERVATION_ROWS],
    ['DiagnosticReport', REPORT_ROWS],
    ['Provenance, Device, Organization', OTHER_ROWS],
  ] as const)('%s', (_type, rows) => {
    it.each(rows.map((row) => ({ title: title(row), row })))('$title', async ({ row: [query, expected] }) => {
      expect(await matches(query)).toEqual([...expected].sort());
    });
  });

  it('date=ap is approximate: within 10% of the distance from now, never the whole timeline', async () => {
    const near = await matches('Observation?date=ap2026-03-15');
    expect(near).toEqual(expect.arrayContaining(['jit5', 'hr2', 'sdnn6']));
    expect(near).not.toContain('mem0');
  });

  it('each match carries the value it was found by (the search reads what the resource says)', async () => {
    const res = await platform.get(url('Observation?code=8867-4&date=2026-03&value-quantity=58')).expect(200);
    expect((res.body as Bundle).entry).toHaveLength(1);
    expect(res.body.entry[0].resource).toMatchObject({
      id: fixture.observation.hr2,
      subject: { reference: `Patient/${fixture.person.zoe}` },
      effectiveDateTime: '2026-03-01T00:00:00.000Z',
      valueQuantity: { value: 58, unit: 'bpm', system: UCUM, code: '/min' },
      status: 'preliminary',
    });
    expect(res.body.entry[0].resource.code.coding).toContainEqual(expect.objectContaining({ system: LOINC, code: '8867-4' }));
    const patient = await platform.get(url('Patient?name:exact=Zoë&birthdate=1990-03-01')).expect(200);
    expect(patient.body.entry.map((e: { resource: unknown }) => e.resource)).toEqual([
      expect.objectContaining({ name: [expect.objectContaining({ family: 'Ångström', given: ['Zoë'] })], birthDate: '1990-03-01', gender: 'female' }),
    ]);
  });
});
