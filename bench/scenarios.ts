import { performance } from 'node:perf_hooks';
import type { PoolClient } from 'pg';
import type { Params } from './params';
import type { Recorder } from './raw';

export const SCENARIO_NAMES = ['patient-read', 'observation-search', 'report-search', 'observation-walk'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export const WALK_PAGES = 10;
export const WALK_PAGE_SIZE = 10;

export interface Scenario {
  name: ScenarioName;
  title: string;
  /** The request, for the report. */
  request: string;
  kind: 'read' | 'search' | 'walk';
  /** p95 target in milliseconds. */
  targetP95: number;
  /** The resourceType a 200 must carry. */
  expect: 'Patient' | 'Bundle';
  /** Gateway paths (autocannon picks one at random per request); for the walk, first pages. */
  paths(p: Params, canonicalBase: string): string[];
  /** The same work straight through pg: one request's worth (a whole walk for the walk). */
  raw(p: Params): (client: PoolClient, i: number, record: Recorder) => Promise<void>;
  /**
   * What the i-th request should answer, straight from the views: the ids of the matches (the first page
   * for the walk) and of the included resources. Compared with the gateway's Bundle before the load.
   */
  expected?(p: Params, i: number, client: PoolClient): Promise<{ match: string[]; include?: string[] }>;
}

/** Field list of the views, written out so that the prepared statements do not depend on SELECT *. */
const PATIENT_SQL = `SELECT id, organization_id, patient_id, version_id, last_updated, deleted_at, first_name, last_name, email,
       birth_date, gender, is_active, language, ethnicity, fitzpatrick_type, identifiers
  FROM fhir_patient WHERE id = $1`;

const OBSERVATION_COLUMNS = `id, organization_id, patient_id, version_id, last_updated, deleted_at, assessment_id, biomarker_name,
       biomarker_category, value, unit, normal_range_min, normal_range_max, status, confidence, percentile, created_at,
       pipeline_type, assessment_status, requires_review, effective_at, device_id`;

const OBSERVATION_SEARCH_SQL = `SELECT ${OBSERVATION_COLUMNS} FROM fhir_observation
 WHERE patient_id = $1 AND biomarker_name = $2 AND effective_at >= $3::date AND deleted_at IS NULL
 ORDER BY effective_at DESC, id LIMIT 21`;

const REPORT_SEARCH_SQL = `SELECT id, organization_id, patient_id, version_id, last_updated, deleted_at, session_id, pipeline_type,
       pipeline_version, status, requires_review, review_reason, risk_score, risk_level, confidence, quality_score,
       processing_time_ms, effective_at, issued, device_id, conclusion, result_ids, findings
  FROM fhir_diagnostic_report
 WHERE patient_id = $1 AND pipeline_type = $2 AND deleted_at IS NULL ORDER BY id LIMIT 51`;

const OBSERVATIONS_BY_ID_SQL = `SELECT ${OBSERVATION_COLUMNS} FROM fhir_observation WHERE id = ANY($1::uuid[])`;

const WALK_FIRST_SQL = `SELECT ${OBSERVATION_COLUMNS} FROM fhir_observation
 WHERE patient_id = $1 AND deleted_at IS NULL ORDER BY id LIMIT ${WALK_PAGE_SIZE + 1}`;
const WALK_NEXT_SQL = `SELECT ${OBSERVATION_COLUMNS} FROM fhir_observation
 WHERE patient_id = $1 AND deleted_at IS NULL AND id > $2 ORDER BY id LIMIT ${WALK_PAGE_SIZE + 1}`;

const q = encodeURIComponent;

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'patient-read',
    title: 'Patient read',
    request: 'GET /fhir/Patient/{id}',
    kind: 'read',
    targetP95: 10,
    expect: 'Patient',
    paths: (p) => p.patients.map((id) => `/fhir/Patient/${id}`),
    raw: (p) => async (client, i) => {
      await client.query({ name: 'bench_patient_read', text: PATIENT_SQL, values: [p.patients[i % p.patients.length]] });
    },
  },
  {
    name: 'observation-search',
    title: 'Observation search',
    request: 'GET /fhir/Observation?patient={id}&code={system|code}&date=ge{date}&_sort=-date&_count=20',
    kind: 'search',
    targetP95: 25,
    expect: 'Bundle',
    paths: (p, canonicalBase) =>
      p.observations.map(
        (o) =>
          `/fhir/Observation?patient=${q(o.patient)}&code=${q(`${canonicalBase}/CodeSystem/biomarker|${o.code}`)}` +
          `&date=ge${o.date}&_sort=-date&_count=20`,
      ),
    raw: (p) => async (client, i) => {
      const o = p.observations[i % p.observations.length];
      await client.query({ name: 'bench_observation_search', text: OBSERVATION_SEARCH_SQL, values: [o.patient, o.code, o.date] });
    },
    expected: async (p, i, client) => {
      const o = p.observations[i];
      const res = await client.query<{ id: string }>({ name: 'bench_observation_search', text: OBSERVATION_SEARCH_SQL, values: [o.patient, o.code, o.date] });
      return { match: res.rows.slice(0, 20).map((r) => r.id) };
    },
  },
  {
    name: 'report-search',
    title: 'DiagnosticReport search + _include',
    request: 'GET /fhir/DiagnosticReport?patient={id}&category={pipeline}&_include=DiagnosticReport:result',
    kind: 'search',
    targetP95: 25,
    expect: 'Bundle',
    paths: (p) =>
      p.reports.map((r) => `/fhir/DiagnosticReport?patient=${q(r.patient)}&category=${q(r.pipeline)}&_include=DiagnosticReport:result`),
    raw: (p) => async (client, i) => {
      const r = p.reports[i % p.reports.length];
      const reports = await client.query<{ result_ids: string[] }>({
        name: 'bench_report_search',
        text: REPORT_SEARCH_SQL,
        values: [r.patient, r.pipeline],
      });
      const ids = reports.rows.slice(0, 50).flatMap((row) => row.result_ids);
      if (ids.length > 0) await client.query({ name: 'bench_observations_by_id', text: OBSERVATIONS_BY_ID_SQL, values: [ids] });
    },
    expected: async (p, i, client) => {
      const r = p.reports[i];
      const res = await client.query<{ id: string; result_ids: string[] }>({
        name: 'bench_report_search',
        text: REPORT_SEARCH_SQL,
        values: [r.patient, r.pipeline],
      });
      const rows = res.rows.slice(0, 50);
      return { match: rows.map((row) => row.id), include: rows.flatMap((row) => row.result_ids) };
    },
  },
  {
    name: 'observation-walk',
    title: `Observation ${WALK_PAGES}-page walk`,
    request: `GET /fhir/Observation?patient={id}&_count=${WALK_PAGE_SIZE}, then ${WALK_PAGES - 1} x next`,
    kind: 'walk',
    targetP95: 25,
    expect: 'Bundle',
    paths: (p) => p.walks.map((id) => `/fhir/Observation?patient=${q(id)}&_count=${WALK_PAGE_SIZE}`),
    raw: (p) => async (client, i, record) => {
      const patient = p.walks[i % p.walks.length];
      let last: string | null = null;
      for (let page = 0; page < WALK_PAGES; page++) {
        const t0 = performance.now();
        const res: { rows: { id: string }[] } =
          last === null
            ? await client.query({ name: 'bench_walk_first', text: WALK_FIRST_SQL, values: [patient] })
            : await client.query({ name: 'bench_walk_next', text: WALK_NEXT_SQL, values: [patient, last] });
        record(`page ${page + 1}`, performance.now() - t0);
        if (res.rows.length <= WALK_PAGE_SIZE) break;
        last = res.rows[WALK_PAGE_SIZE - 1].id;
      }
    },
    expected: async (p, i, client) => {
      const res = await client.query<{ id: string }>({ name: 'bench_walk_first', text: WALK_FIRST_SQL, values: [p.walks[i]] });
      return { match: res.rows.slice(0, WALK_PAGE_SIZE).map((r) => r.id) };
    },
  },
];
