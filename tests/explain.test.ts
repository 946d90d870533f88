import type { EntityManager } from 'typeorm';
import type { FhirResource } from 'fhir/r4';
import { dbIdentity, rowAccess, type AccessContext } from '../src/auth/access';
import { RESOURCE_TYPES } from '../src/auth/resource-types';
import { parseScopes } from '../src/auth/scopes';
import { withDbContext, withMaintenanceContext } from '../src/db/context';
import { openDatabase, type Database } from '../src/db/datasource';
import { migrate } from '../src/db/migrate';
import { loadIncludes } from '../src/fhir/handlers/includes';
import { searchPage, sortColumns } from '../src/search/query';
import { resourceDefinitions } from '../src/search/registry';
import { parseSearch } from '../src/search/request';
import { adminQuery } from './support/database';
import { withDatabase } from './support/env';

/**
 * A planner test on the server Postgres: with a million Observations, no US Core search the gateway
 * builds may read biomarker_values or assessments sequentially. The statements are the gateway's own
 * (searchPage and loadIncludes, through a manager that EXPLAINs instead of running them), with the same
 * bound values, as the application role under the identity of a system client bound to one organization.
 */
const SERVER = process.env.TEST_DATABASE_URL;
const runs = SERVER !== undefined && process.env.TEST_DATABASE_DRIVER !== 'neon';
const describeOnServer = runs ? describe : describe.skip;

/**
 * Tables that grow with the data: biomarker_values and assessments, and (one row per completed
 * assessment) the modality results and explanations every DiagnosticReport reads.
 */
const PIPELINES = ['retinal', 'speech', 'cardiology', 'radiology', 'dermatology', 'cognitive'];
const BIG_TABLES = new Set(['biomarker_values', 'assessments', 'ai_explanations', ...PIPELINES.map((p) => `${p}_results`)]);
const BASE = 'http://gateway.test/fhir';
const CTX = { canonicalBase: 'https://fhir.medilens.ai' };

const PATIENTS = 10_000;
const ASSESSMENTS = 100_000;

/** Ten realistic biomarkers per pipeline (the demo catalog, filled up to ten). */
const CATALOG: Record<string, [string, string, string][]> = {
  retinal: [
    ['vessel_density', 'vessel', '1'], ['av_ratio', 'vessel', '1'], ['tortuosity_index', 'vessel', '1'], ['cup_to_disc_ratio', 'optic_disc', '1'],
    ['microaneurysm_count', 'lesion', '1'], ['hemorrhage_count', 'lesion', '1'], ['exudate_area_percent', 'lesion', '%'],
    ['optic_disc_area', 'optic_disc', 'mm2'], ['macular_thickness', 'macula', 'um'], ['rnfl_thickness', 'nerve_fiber', 'um'],
  ],
  speech: [
    ['jitter', 'voice', '%'], ['shimmer', 'voice', '%'], ['hnr', 'voice', 'dB'], ['cpps', 'voice', 'dB'], ['speech_rate', 'fluency', '/min'],
    ['pause_ratio', 'fluency', '1'], ['voice_tremor', 'voice', '1'], ['articulation_clarity', 'articulation', '1'],
    ['prosody_variation', 'prosody', 'Hz'], ['fluency_score', 'fluency', '1'],
  ],
  cardiology: [
    ['heart_rate', 'vital', '/min'], ['rmssd', 'hrv', 'ms'], ['sdnn', 'hrv', 'ms'], ['pnn50', 'hrv', '%'], ['pr_interval', 'interval', 'ms'],
    ['qrs_duration', 'interval', 'ms'], ['qt_interval', 'interval', 'ms'], ['qtc', 'interval', 'ms'], ['st_deviation', 'segment', 'mm'],
    ['p_wave_duration', 'interval', 'ms'],
  ],
  radiology: [
    ['cardiothoracic_ratio', 'cardiac', '1'], ['lung_opacity_area', 'lung', '%'], ['pneumonia_probability', 'lung', '%'],
    ['pleural_effusion_probability', 'pleura', '%'], ['nodule_max_diameter', 'lung', 'mm'], ['trachea_deviation', 'mediastinum', 'mm'],
    ['lung_field_symmetry', 'lung', '1'], ['heart_size_index', 'cardiac', '1'], ['atelectasis_probability', 'lung', '%'],
    ['pneumothorax_probability', 'pleura', '%'],
  ],
  dermatology: [
    ['asymmetry_score', 'abcde', '1'], ['border_score', 'abcde', '1'], ['color_score', 'abcde', '1'], ['diameter', 'abcde', 'mm'],
    ['evolution_score', 'abcde', '1'], ['melanoma_probability', 'lesion', '%'], ['lesion_area', 'lesion', 'mm2'],
    ['pigment_network_score', 'dermoscopy', '1'], ['vascular_pattern_score', 'dermoscopy', '1'], ['lesion_elevation_score', 'lesion', '1'],
  ],
  cognitive: [
    ['attention_score', 'cognitive_domain', '1'], ['memory_score', 'cognitive_domain', '1'], ['executive_function_score', 'cognitive_domain', '1'],
    ['processing_speed_score', 'cognitive_domain', '1'], ['reaction_time_mean', 'reaction_time', 'ms'],
    ['reaction_time_variability', 'reaction_time', 'ms'], ['task_completion_time', 'task', 's'], ['fatigue_index', 'task', '1'],
    ['consistency_score', 'task', '1'], ['verbal_fluency_score', 'cognitive_domain', '1'],
  ],
};

const FIRST = ['James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth', 'William', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Carlos', 'Karen', 'Ahmed', 'Lisa', 'Wei', 'Nancy', 'José', 'Betty', 'Daniel', 'Sandra', 'Matthew', 'Ashley', 'Anthony', 'Kimberly', 'Mark', 'Emily', 'Donald', 'Donna', 'Steven', 'Michelle', 'Andrew', 'Zoë'];
const LAST = ['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores', 'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts', 'Müller', 'Schröder', 'Østergaard', 'Kowalski', 'Novák', 'Rossi', 'Dubois', 'Yamamoto', 'Kim', 'Patel'];

const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;
const sqlArray = (list: readonly string[]) => `ARRAY[${list.map(sqlText).join(', ')}]`;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
  [key: string]: unknown;
}

/** Every node of a plan, subplans and init plans included. */
function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** The plan as indented node lines (for reading). */
function outline(plan: PlanNode, depth = 0): string {
  const label = [plan['Node Type'], plan['Index Name'] ? `using ${plan['Index Name']}` : '', plan['Relation Name'] ? `on ${plan['Relation Name']}` : '']
    .filter(Boolean)
    .join(' ');
  const detail = ['Index Cond', 'Filter', 'Recheck Cond'].filter((k) => plan[k]).map((k) => `${k}: ${String(plan[k]).slice(0, 160)}`);
  const pad = '  '.repeat(depth);
  return [`${pad}${label}  (rows=${plan['Plan Rows']} cost=${plan['Total Cost']})`, ...detail.map((d) => `${pad}    ${d}`), ...(plan.Plans ?? []).map((p) => outline(p, depth + 1))].join('\n');
}

interface Explained {
  statement: string;
  values: unknown[];
  plan: PlanNode;
}

/**
 * An EntityManager for the search layer that EXPLAINs each statement (as the same transaction, with the
 * same values) instead of running it, and answers no rows.
 */
function explainingManager(tx: EntityManager, out: Explained[]): EntityManager {
  const explain = async (text: string, values: unknown[] = []) => {
    const rows = await tx.query(`EXPLAIN (FORMAT JSON) ${text}`, values);
    const raw = rows[0]['QUERY PLAN'];
    const parsed = typeof raw === 'string' ? JSON.parse(raw) : raw;
    out.push({ statement: text, values, plan: parsed[0].Plan });
  };
  const client = {
    query: async (config: { text: string; values: unknown[] }) => {
      await explain(config.text, config.values);
      return { rows: [] };
    },
  };
  return {
    connection: tx.connection,
    queryRunner: { databaseConnection: client },
    query: async (text: string, values?: unknown[]) => {
      await explain(text, values);
      return [];
    },
  } as unknown as EntityManager;
}

describeOnServer('US Core searches on a million Observations use indexes (server Postgres planner)', () => {
  const name = `medilens_explain_${process.pid}`;
  let db: Database;
  let access: AccessContext;
  let patient: string;
  const definitions = resourceDefinitions(CTX.canonicalBase);

  beforeAll(async () => {
    await adminQuery(SERVER!, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await adminQuery(SERVER!, `CREATE DATABASE ${name}`);
    db = await openDatabase({ kind: 'postgres', url: withDatabase(SERVER!, name) }, { poolSize: 2 });
    await migrate(db.dataSource);

    const started = Date.now();
    // One transaction, set-based, as the owner: written together, ingestion's way (so the biomarkers
    // do not each bump their report's version).
    await withMaintenanceContext(db.dataSource, async (tx) => {
      await tx.query(`INSERT INTO organizations (name, type) SELECT 'Clinic ' || g, 'clinic' FROM generate_series(1, 4) g`);
      await tx.query(`INSERT INTO roles (name) VALUES ('patient'), ('clinician') ON CONFLICT (name) DO NOTHING`);
      await tx.query(
        `INSERT INTO model_registry (pipeline_type, model_name, version, is_active)
         SELECT p, p || '-net', '1.0.0', true FROM unnest(${sqlArray(Object.keys(CATALOG))}) p`,
      );
      await tx.query(`
        WITH o AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM organizations)
        INSERT INTO users (clerk_user_id, email, first_name, last_name, date_of_birth, gender, organization_id)
        SELECT 'clerk_' || g, 'patient' || g || '@example.org',
               (${sqlArray(FIRST)})[1 + g % ${FIRST.length}],
               (${sqlArray(LAST)})[1 + (g / ${FIRST.length}) % ${LAST.length}],
               DATE '1940-01-01' + (g * 7919) % 25000,
               (ARRAY['female', 'male', 'F', 'M', 'other'])[1 + g % 5],
               o.id
          FROM generate_series(0, ${PATIENTS - 1}) g JOIN o ON o.n = g % 4`);
      await tx.query(`INSERT INTO user_roles (user_id, role_id, organization_id) SELECT u.id, r.id, u.organization_id FROM users u, roles r WHERE r.name = 'patient'`);
      await tx.query(`INSERT INTO user_profiles (user_id, language, ethnicity) SELECT id, 'en', NULL FROM users`);
      await tx.query(`
        INSERT INTO patient_identifiers (user_id, organization_id, system, value)
        SELECT id, organization_id, 'urn:oid:2.16.840.1.113883.3.7418', 'MRN' || lpad((row_number() OVER (ORDER BY id))::text, 7, '0') FROM users`);
      await tx.query(`
        WITH u AS (SELECT id, organization_id, row_number() OVER (ORDER BY id) - 1 AS n FROM users),
             p AS (SELECT name, i FROM unnest(${sqlArray(Object.keys(CATALOG))}) WITH ORDINALITY AS p(name, i))
        INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type, status, requires_review, risk_score, risk_level,
                                 confidence, quality_score, processing_time_ms, created_at, completed_at)
        SELECT 'session_' || g, u.id, u.organization_id, p.name,
               CASE WHEN g % 53 = 0 THEN 'failed' WHEN g % 97 = 0 THEN 'processing' ELSE 'completed' END,
               g % 11 = 0, g % 100, (ARRAY['low', 'moderate', 'high', 'critical'])[1 + g % 4], 0.9, 0.8, 1000 + g % 5000,
               TIMESTAMPTZ '2026-11-01 00:00:00+00' - g * INTERVAL '311 seconds',
               TIMESTAMPTZ '2026-11-01 00:00:00+00' - g * INTERVAL '311 seconds' + INTERVAL '7 seconds'
          FROM generate_series(0, ${ASSESSMENTS - 1}) g
          JOIN u ON u.n = g % ${PATIENTS}
          JOIN p ON p.i = 1 + (g / ${PATIENTS} + g) % 6`);
      const catalog = Object.entries(CATALOG).flatMap(([pipeline, list]) => list.map(([n, category, unit]) => `(${[pipeline, n, category, unit].map(sqlText).join(', ')})`));
      await tx.query(`
        INSERT INTO biomarker_values (assessment_id, user_id, organization_id, biomarker_name, biomarker_category, value, unit,
                                      normal_range_min, normal_range_max, status, confidence, created_at)
        SELECT a.id, a.user_id, a.organization_id, c.name, c.category, round((random() * 100)::numeric, 3), c.unit, 10, 90,
               'normal', 0.9, a.created_at
          FROM assessments a JOIN (VALUES ${catalog.join(', ')}) AS c(pipeline, name, category, unit) ON c.pipeline = a.pipeline_type`);
      for (const pipeline of PIPELINES) {
        await tx.query(`INSERT INTO ${pipeline}_results (assessment_id, created_at) SELECT id, completed_at FROM assessments WHERE pipeline_type = $1 AND status = 'completed'`, [
          pipeline,
        ]);
      }
      await tx.query(`
        INSERT INTO ai_explanations (assessment_id, explanation_text, model_used, created_at)
        SELECT id, 'The measured values are within the expected range for age and sex.', 'gpt-4o-mini', completed_at
          FROM assessments WHERE status = 'completed'`);
    });
    await db.dataSource.query('ANALYZE');
    const [{ observations }] = await db.dataSource.query(`SELECT count(*)::int AS observations FROM biomarker_values`);
    // eslint-disable-next-line no-console
    console.log(`explain: loaded ${PATIENTS} patients, ${ASSESSMENTS} assessments, ${observations} biomarker_values in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(observations).toBeGreaterThanOrEqual(1_000_000);

    [{ id: patient }] = await db.dataSource.query(
      `SELECT u.id FROM users u JOIN organizations o ON o.id = u.organization_id WHERE o.name = 'Clinic 1' ORDER BY u.id LIMIT 1 OFFSET 17`,
    );
    const [{ organization_id: organization }] = await db.dataSource.query(`SELECT organization_id FROM users WHERE id = $1`, [patient]);
    access = {
      kind: 'client',
      clientId: 'explain',
      subject: 'explain',
      fhirUser: null,
      scopes: parseScopes('system/*.rs', RESOURCE_TYPES).resource,
      userId: null,
      role: 'system',
      organizationId: organization,
      allOrganizations: false,
      patientId: null,
      compartment: null,
      identifiable: true,
    };
  }, 900_000);

  afterAll(async () => {
    await db?.close();
    if (runs) await adminQuery(SERVER!, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }, 120_000);

  /** The statements a search runs (the page, then each _include/_revinclude), EXPLAINed as the request would run them. */
  async function explainSearch(type: string, params: Record<string, string | string[]>): Promise<Explained[]> {
    const def = definitions.get(type)!;
    const query = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
    const search = parseSearch(def, definitions, query, false, BASE);
    const reach = rowAccess(access, type, 's');
    const columns = sortColumns(def, search.sort);
    return withDbContext(db.dataSource, dbIdentity(access), async (tx) => {
      const explained: Explained[] = [];
      await searchPage(explainingManager(tx, explained), def, reach, search.filters, columns, null, search.count, BASE);
      if (search.include.length || search.revinclude.length) {
        // The includes are looked up for the page's real matches.
        const page = await searchPage(tx, def, reach, search.filters, columns, null, search.count, BASE);
        const matches = page.rows.map((row) => def.toResource(row, CTX)) as FhirResource[];
        expect(matches.length).toBeGreaterThan(0);
        await loadIncludes(explainingManager(tx, explained), def, definitions, access, search, matches, CTX);
      }
      return explained;
    });
  }

  async function expectNoSeqScan(type: string, params: Record<string, string | string[]>, statements = 1): Promise<void> {
    const explained = await explainSearch(type, params);
    expect(explained.length).toBeGreaterThanOrEqual(statements);
    if (process.env.EXPLAIN_PRINT) {
      // eslint-disable-next-line no-console
      console.log(explained.map((e) => `${type} ${JSON.stringify(params)}\n${e.statement}\n${outline(e.plan)}`).join('\n\n'));
    }
    const offending = explained.filter((e) => nodes(e.plan).some((n) => n['Node Type'] === 'Seq Scan' && BIG_TABLES.has(n['Relation Name'] ?? '')));
    if (offending.length) {
      const report = offending.map((e) => `${e.statement}\n-- values: ${JSON.stringify(e.values)}\n${JSON.stringify(e.plan, null, 2)}`).join('\n\n');
      // eslint-disable-next-line no-console
      console.log(`${type}?${new URLSearchParams(Object.entries(params).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x): [string, string] => [k, x])))}\n${report}`);
    }
    const seqScans = offending.flatMap((e) => nodes(e.plan).filter((n) => n['Node Type'] === 'Seq Scan' && BIG_TABLES.has(n['Relation Name'] ?? '')).map((n) => `Seq Scan on ${n['Relation Name']}`));
    expect(seqScans).toEqual([]);
  }

  const since = 'ge2026-06-01';
  const VITAL_SIGNS = 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';
  const HEART_RATE = 'http://loinc.org|8867-4';
  const CARDIOLOGY_NOTE = 'http://loinc.org|LP29708-2';
  const EKG_STUDY = 'http://loinc.org|11524-6';

  describe('Observation', () => {
    it('patient + category', () => expectNoSeqScan('Observation', { patient: patient, category: VITAL_SIGNS }));
    it('patient + category (a pipeline category: imaging)', () => expectNoSeqScan('Observation', { patient: `Patient/${patient}`, category: 'imaging' }));
    it('patient + code', () => expectNoSeqScan('Observation', { patient: patient, code: HEART_RATE }));
    it('patient + category + date', () => expectNoSeqScan('Observation', { patient: patient, category: VITAL_SIGNS, date: since }));
    it('patient + category + date range, _sort=-date', () =>
      expectNoSeqScan('Observation', { patient: patient, category: VITAL_SIGNS, date: [since, 'lt2026-11-01'], _sort: '-date' }));
    it('patient + code + date, _sort=-date', () => expectNoSeqScan('Observation', { patient: patient, code: HEART_RATE, date: since, _sort: '-date' }));
    it('patient + category + status (multiple OR)', () => expectNoSeqScan('Observation', { patient: patient, category: VITAL_SIGNS, status: 'final,preliminary' }));
    it('patient + code, _revinclude=Provenance:target', () =>
      expectNoSeqScan('Observation', { patient: patient, code: HEART_RATE, _revinclude: 'Provenance:target' }, 2));
  });

  describe('DiagnosticReport', () => {
    it('patient', () => expectNoSeqScan('DiagnosticReport', { patient: patient }));
    it('patient + category', () => expectNoSeqScan('DiagnosticReport', { patient: patient, category: CARDIOLOGY_NOTE }));
    it('patient + code', () => expectNoSeqScan('DiagnosticReport', { patient: patient, code: EKG_STUDY }));
    it('patient + category + date', () => expectNoSeqScan('DiagnosticReport', { patient: patient, category: CARDIOLOGY_NOTE, date: since }));
    it('patient + category + date, _sort=-date', () => expectNoSeqScan('DiagnosticReport', { patient: patient, category: CARDIOLOGY_NOTE, date: since, _sort: '-date' }));
    it('patient, _include=DiagnosticReport:result (the Observation lookup)', () =>
      expectNoSeqScan('DiagnosticReport', { patient: patient, _include: 'DiagnosticReport:result' }, 2));
    it('patient, _revinclude=Provenance:target', () => expectNoSeqScan('DiagnosticReport', { patient: patient, _revinclude: 'Provenance:target' }, 2));
  });

  describe('the plan walker', () => {
    it('finds a Seq Scan on biomarker_values where there is one (control)', async () => {
      const rows = await db.dataSource.query(`EXPLAIN (FORMAT JSON) SELECT count(*) FROM biomarker_values WHERE value > 50`);
      const raw = rows[0]['QUERY PLAN'];
      const plan: PlanNode = (typeof raw === 'string' ? JSON.parse(raw) : raw)[0].Plan;
      expect(nodes(plan).some((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'biomarker_values')).toBe(true);
    });
  });

  describe('Patient', () => {
    it('_id', () => expectNoSeqScan('Patient', { _id: patient }));
    it('identifier (system|value and value alone)', async () => {
      await expectNoSeqScan('Patient', { identifier: 'urn:oid:2.16.840.1.113883.3.7418|MRN0000042' });
      await expectNoSeqScan('Patient', { identifier: 'MRN0000042' });
    });
    it('name', () => expectNoSeqScan('Patient', { name: 'smi' }));
    it('birthdate + name', () => expectNoSeqScan('Patient', { birthdate: '1970-05-05', name: 'Müller' }));
    it('gender + name', () => expectNoSeqScan('Patient', { gender: 'female', name: 'Garcia' }));

    // Requests run under row-level security, where only leakproof operators on plain columns may become
    // index conditions ahead of the policy: name search compares the stored folded names (family_fold,
    // given_fold) by range, so idx_users_family_fold / idx_users_given_fold apply. (A bitmap scan names
    // its index on the Bitmap Index Scan node, which carries no relation name.)
    it('name searches use the accent-folded name indexes', async () => {
      const used: Record<string, string[]> = {};
      const searches: Record<string, string>[] = [{ name: 'smi' }, { family: 'Garc' }, { given: 'Zo' }, { gender: 'female', name: 'Garcia' }];
      for (const params of searches) {
        const [page] = await explainSearch('Patient', params);
        used[JSON.stringify(params)] = nodes(page.plan)
          .filter((n) => n['Index Name'] && (n['Relation Name'] === 'users' || n['Node Type'] === 'Bitmap Index Scan'))
          .map((n) => n['Index Name']!)
          .filter((i) => i !== 'users_pkey');
        if (!used[JSON.stringify(params)].some((i) => /fold/.test(i))) {
          // eslint-disable-next-line no-console
          console.log(`Patient ${JSON.stringify(params)}\n${page.statement}\n${outline(page.plan)}`);
        }
      }
      const folded = Object.fromEntries(Object.entries(used).map(([params, indexes]) => [params, indexes.filter((i) => /^idx_users_(family|given)_fold$/.test(i))]));
      expect(folded).toEqual(Object.fromEntries(Object.keys(used).map((params) => [params, expect.arrayContaining([expect.stringMatching(/fold/)])])));
    });
  });
});
