import { withMaintenanceContext } from '../../src/db/context';
import { generateDemoData } from '../../src/demo/generator';
import { backendToken, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { allPages, caller, sorted, type Caller } from '../support/search';

/**
 * The US Core SHALL and SHOULD search combinations over the demo data, each compared with the answer
 * of a direct SQL query on the base tables (users, assessments, biomarker_values) as the owner: not
 * through the fhir_* views or the code map, but with the codes spelled out here as US Core and the
 * mapping documentation define them. Every result is collected by following next links (small pages),
 * so paging is part of what is compared. The caller is a backend client bound to the first organization.
 */

const USER_ID = 'https://fhir.medilens.ai/sid/user-id';
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const LOINC = 'http://loinc.org';
const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074';
const PIPELINE = 'https://fhir.medilens.ai/CodeSystem/pipeline';
const REPORT = 'https://fhir.medilens.ai/CodeSystem/report';

/** Observation category -> the rows it means, on biomarker_values bv joined to assessments a. */
const OBSERVATION_CATEGORIES: Record<string, string> = {
  'vital-signs': `bv.biomarker_name = 'heart_rate'`,
  procedure: `a.pipeline_type = 'cardiology' AND bv.biomarker_name <> 'heart_rate'`,
  imaging: `a.pipeline_type IN ('retinal', 'radiology', 'dermatology')`,
  exam: `a.pipeline_type = 'speech'`,
  survey: `a.pipeline_type = 'cognitive'`,
  laboratory: 'FALSE',
};
/** LOINC code -> MediLens biomarker. */
const LOINC_BIOMARKERS: Record<string, string> = {
  '8867-4': 'heart_rate',
  '80404-7': 'sdnn',
  '8625-6': 'pr_interval',
  '8633-0': 'qrs_duration',
  '8634-8': 'qt_interval',
  '8636-3': 'qtc',
};
/** Observation.status -> the assessment states it means. */
const OBSERVATION_STATUS: Record<string, string> = {
  final: `a.status = 'completed' AND NOT a.requires_review`,
  preliminary: `a.status IN ('pending', 'processing') OR (a.status = 'completed' AND a.requires_review)`,
  cancelled: `a.status = 'failed'`,
};
/** DiagnosticReport category / code token -> pipelines. */
const REPORT_CATEGORIES: Record<string, string[]> = {
  [`${LOINC}|LP29708-2`]: ['cardiology'],
  [`${LOINC}|LP29684-5`]: ['radiology'],
  [`${V2_0074}|IMG`]: ['retinal', 'dermatology'],
  [`${V2_0074}|EC`]: ['cardiology'],
  [`${PIPELINE}|speech`]: ['speech'],
  [`${PIPELINE}|cognitive`]: ['cognitive'],
};
const REPORT_CODES: Record<string, string[]> = {
  [`${LOINC}|11524-6`]: ['cardiology'],
  [`${LOINC}|18748-4`]: ['radiology'],
  '11524-6': ['cardiology'],
  [`${REPORT}|retinal`]: ['retinal'],
};
/** A date search prefix on a day -> the instants it takes, for $d (a YYYY-MM-DD). */
const DAY_PREFIXES: Record<string, string> = {
  gt: `a.created_at >= (($d::date + 1)::timestamp AT TIME ZONE 'UTC')`,
  ge: `a.created_at >= ($d::date::timestamp AT TIME ZONE 'UTC')`,
  lt: `a.created_at < ($d::date::timestamp AT TIME ZONE 'UTC')`,
  le: `a.created_at < (($d::date + 1)::timestamp AT TIME ZONE 'UTC')`,
};
/** The same on an instant of whole seconds: gt excludes that second, le includes it. */
const INSTANT_PREFIXES: Record<string, string> = {
  gt: `a.created_at >= $d::timestamptz + interval '1 second'`,
  ge: `a.created_at >= $d::timestamptz`,
  lt: `a.created_at < $d::timestamptz`,
  le: `a.created_at < $d::timestamptz + interval '1 second'`,
};

describe(`US Core search combinations against SQL (${testBackend()})`, () => {
  let db: TestDatabase;
  let api: Caller;
  let org: string;
  /** Patients of the organization with the widest mix of pipelines, and one of their assessment days and instants. */
  let patients: { id: string; family: string; birth: string; gender: string; day: string; instant: string }[];

  const owner = async (sql: string, params: unknown[]): Promise<string[]> =>
    sorted((await withMaintenanceContext(db.dataSource, (tx) => tx.query(sql, params))).map((r: { id: string }) => r.id));

  beforeAll(async () => {
    db = await openTestDatabase();
    const app = testApp(db);
    const demo = await generateDemoData(db.dataSource, { patients: 40, assessmentsPerPatient: 8, organizations: 2, clinicians: 2, seed: 2026 });
    org = demo.organizationIds[0];
    const key = await keyClient(db, 'us-core-client', 'system/*.rs', org);
    api = caller(app, await backendToken(app, 'us-core-client', key, 'system/*.rs'));
    patients = await withMaintenanceContext(db.dataSource, (tx) =>
      tx.query(
        `SELECT u.id, u.last_name AS family, u.date_of_birth::text AS birth, u.gender,
                (array_agg((a.created_at AT TIME ZONE 'UTC')::date::text ORDER BY a.created_at))[4] AS day,
                to_char((array_agg(a.created_at ORDER BY a.created_at))[5] AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS instant
           FROM users u JOIN assessments a ON a.user_id = u.id
          WHERE u.organization_id = $1 AND EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name = 'patient')
          GROUP BY u.id ORDER BY count(DISTINCT a.pipeline_type) DESC, u.id LIMIT 6`,
        [org],
      ),
    );
    // One soft-deleted report with its observations: neither SQL below nor the API may return them.
    await db.dataSource.query(
      `UPDATE assessments SET deleted_at = now() WHERE id = (SELECT id FROM assessments WHERE user_id = $1 AND status = 'completed' ORDER BY created_at LIMIT 1)`,
      [patients[0].id],
    );
  }, 120_000);
  afterAll(() => db.close());

  /** Every id the API returns for the search, following next links with small pages. */
  const apiIds = async (query: string) => {
    const { ids } = await allPages(api, `${query}&_count=7`);
    expect(ids.length).toBe(new Set(ids).size);
    return sorted(ids);
  };

  /** Runs each case; collects the ones whose API answer differs from SQL, and checks the cases are not all empty. */
  async function compare(cases: { query: string; sql: string; params: unknown[] }[]): Promise<void> {
    const wrong: string[] = [];
    let nonEmpty = 0;
    for (const c of cases) {
      const [expected, actual] = [await owner(c.sql, c.params), await apiIds(c.query)];
      if (expected.length > 0) nonEmpty++;
      if (JSON.stringify(expected) !== JSON.stringify(actual)) {
        wrong.push(`${c.query}: SQL ${expected.length} rows, API ${actual.length} (missing ${expected.filter((i) => !actual.includes(i)).length}, extra ${actual.filter((i) => !expected.includes(i)).length})`);
      }
    }
    expect(wrong).toEqual([]);
    expect(nonEmpty).toBeGreaterThanOrEqual(Math.ceil(cases.length / 6));
  }

  const PATIENTS_OF_ORG = `u.organization_id = $1 AND u.deleted_at IS NULL
    AND (EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name = 'patient')
         OR NOT EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id))`;
  const NAME_STARTS = `(lower(u.first_name) LIKE lower($2) || '%' OR lower(u.last_name) LIKE lower($2) || '%')`;
  const GENDER_VALUES: Record<string, string[]> = { female: ['female', 'f'], male: ['male', 'm'], other: ['other', 'non-binary', 'nonbinary'] };

  it('Patient: _id, identifier, name, birthdate+name, gender+name', async () => {
    const cases = patients.flatMap((p) => {
      const prefix = p.family.slice(0, 3);
      return [
        { query: `/fhir/Patient?_id=${p.id}`, sql: `SELECT u.id FROM users u WHERE ${PATIENTS_OF_ORG} AND u.id = $2`, params: [org, p.id] },
        {
          query: `/fhir/Patient?identifier=${encodeURIComponent(`${USER_ID}|${p.id}`)}`,
          sql: `SELECT u.id FROM users u WHERE ${PATIENTS_OF_ORG} AND u.id = $2`,
          params: [org, p.id],
        },
        { query: `/fhir/Patient?name=${prefix.toUpperCase()}`, sql: `SELECT u.id FROM users u WHERE ${PATIENTS_OF_ORG} AND ${NAME_STARTS}`, params: [org, prefix] },
        {
          query: `/fhir/Patient?birthdate=${p.birth}&name=${p.family}`,
          sql: `SELECT u.id FROM users u WHERE ${PATIENTS_OF_ORG} AND ${NAME_STARTS} AND u.date_of_birth = $3::date`,
          params: [org, p.family, p.birth],
        },
        {
          query: `/fhir/Patient?gender=${p.gender}&name=${p.family}`,
          sql: `SELECT u.id FROM users u WHERE ${PATIENTS_OF_ORG} AND ${NAME_STARTS} AND lower(u.gender) = ANY($3::text[])`,
          params: [org, p.family, GENDER_VALUES[p.gender]],
        },
      ];
    });
    await compare(cases);
  });

  const OBSERVATIONS_OF = `SELECT bv.id FROM biomarker_values bv JOIN assessments a ON a.id = bv.assessment_id
    WHERE a.user_id = $1 AND a.organization_id = $2 AND a.deleted_at IS NULL`;

  it('Observation: patient+category (observation-category codes, with and without the system)', async () => {
    await compare(
      patients.flatMap((p) =>
        Object.entries(OBSERVATION_CATEGORIES).map(([code, where], i) => ({
          query: `/fhir/Observation?patient=${i % 2 ? `Patient/${p.id}` : p.id}&category=${encodeURIComponent(i % 2 ? `${OBS_CATEGORY}|${code}` : code)}`,
          sql: `${OBSERVATIONS_OF} AND (${where})`,
          params: [p.id, org],
        })),
      ),
    );
  });

  it('Observation: patient+code (LOINC system|code and code alone)', async () => {
    await compare(
      patients.flatMap((p) =>
        Object.entries(LOINC_BIOMARKERS).map(([code, biomarker], i) => ({
          query: `/fhir/Observation?patient=${p.id}&code=${encodeURIComponent(i % 2 ? `${LOINC}|${code}` : code)}`,
          sql: `${OBSERVATIONS_OF} AND bv.biomarker_name = $3`,
          params: [p.id, org, biomarker],
        })),
      ),
    );
  });

  it('Observation: patient+category+date with gt, ge, lt, le on a day and on an instant', async () => {
    const cases = patients.flatMap((p) =>
      ['vital-signs', 'procedure', 'imaging', 'exam', 'survey'].flatMap((category) =>
        [...Object.entries(DAY_PREFIXES).map(([prefix, where]) => ({ prefix, where, value: p.day })),
          ...Object.entries(INSTANT_PREFIXES).map(([prefix, where]) => ({ prefix, where, value: p.instant }))].map(({ prefix, where, value }) => ({
          query: `/fhir/Observation?patient=${p.id}&category=${category}&date=${prefix}${encodeURIComponent(value)}`,
          sql: `${OBSERVATIONS_OF} AND (${OBSERVATION_CATEGORIES[category]}) AND ${where.replace(/\$d/g, '$3')}`,
          params: [p.id, org, value],
        })),
      ),
    );
    await compare(cases);
  });

  it('Observation: patient+category+status, status as one code and as a comma list (OR)', async () => {
    const statuses = ['final', 'preliminary', 'cancelled', 'final,preliminary', 'preliminary,cancelled'];
    await compare(
      patients.flatMap((p) =>
        ['vital-signs', 'procedure', 'imaging', 'exam', 'survey'].flatMap((category) =>
          statuses.map((status) => ({
            query: `/fhir/Observation?patient=${p.id}&category=${category}&status=${status}`,
            sql: `${OBSERVATIONS_OF} AND (${OBSERVATION_CATEGORIES[category]}) AND (${status
              .split(',')
              .map((s) => `(${OBSERVATION_STATUS[s]})`)
              .join(' OR ')})`,
            params: [p.id, org],
          })),
        ),
      ),
    );
  });

  const REPORTS_OF = `SELECT a.id FROM assessments a WHERE a.user_id = $1 AND a.organization_id = $2 AND a.deleted_at IS NULL`;

  it('DiagnosticReport: patient, patient+category, patient+code', async () => {
    await compare(
      patients.flatMap((p) => [
        { query: `/fhir/DiagnosticReport?patient=${p.id}`, sql: REPORTS_OF, params: [p.id, org] },
        ...Object.entries({ ...REPORT_CATEGORIES }).map(([token, pipelines]) => ({
          query: `/fhir/DiagnosticReport?patient=${p.id}&category=${encodeURIComponent(token)}`,
          sql: `${REPORTS_OF} AND a.pipeline_type = ANY($3::text[])`,
          params: [p.id, org, pipelines],
        })),
        ...Object.entries(REPORT_CODES).map(([token, pipelines]) => ({
          query: `/fhir/DiagnosticReport?patient=Patient/${p.id}&code=${encodeURIComponent(token)}`,
          sql: `${REPORTS_OF} AND a.pipeline_type = ANY($3::text[])`,
          params: [p.id, org, pipelines],
        })),
      ]),
    );
  });

  it('DiagnosticReport: patient+category+date with gt, ge, lt, le', async () => {
    await compare(
      patients.flatMap((p) =>
        Object.entries(REPORT_CATEGORIES).flatMap(([token, pipelines]) =>
          [...Object.entries(DAY_PREFIXES).map(([prefix, where]) => ({ prefix, where, value: p.day })),
            ...Object.entries(INSTANT_PREFIXES).map(([prefix, where]) => ({ prefix, where, value: p.instant }))].map(({ prefix, where, value }) => ({
            query: `/fhir/DiagnosticReport?patient=${p.id}&category=${encodeURIComponent(token)}&date=${prefix}${encodeURIComponent(value)}`,
            sql: `${REPORTS_OF} AND a.pipeline_type = ANY($3::text[]) AND ${where.replace(/\$d/g, '$4')}`,
            params: [p.id, org, pipelines, value],
          })),
        ),
      ),
    );
  });

  it('the same searches by POST _search find the same rows', async () => {
    const p = patients[1];
    const form = `patient=${p.id}&category=${encodeURIComponent(`${OBS_CATEGORY}|procedure`)}&date=ge${p.day}&_count=1000`;
    const viaPost = await api.post('/fhir/Observation/_search', form).expect(200);
    const ids = sorted((viaPost.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id));
    expect(ids).toEqual(await apiIds(`/fhir/Observation?${form.replace('&_count=1000', '')}`));
  });
});
