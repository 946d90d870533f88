import type { Bundle, BundleEntry, DiagnosticReport, FhirResource, Observation, Patient, Provenance } from 'fhir/r4';
import { registerClient } from '../../src/auth/clients';
import { generateDemoData } from '../../src/demo/generator';
import { clientKey } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertAssessment, insertBiomarker } from '../support/fixtures';
import { backendServiceToken, failure, fhirKitClient, resourcesOf, responseOf, startGateway, walk, type FhirKitClient, type Gateway } from '../support/journey';

/**
 * An EHR's nightly pull, driven with fhir-kit-client against a listening gateway: a backend service bound
 * to one organization authenticates with a signed assertion, then pulls one patient's cardiology
 * reports with their results and AI provenance, a few per page, following next links to the end, while
 * the MediLens backend flags a report for review in the middle of the walk.
 */

const SCOPE = 'system/DiagnosticReport.rs system/Observation.rs system/Provenance.rs system/Patient.rs';
/** v2-0074 EC (electrocardiac): the category of the cardiology pipeline's reports. */
const CARDIOLOGY = 'http://terminology.hl7.org/CodeSystem/v2-0074|EC';
const PAGE = 3;

interface ReportRow {
  id: string;
  status: string | null;
  requires_review: boolean | null;
}

/** DiagnosticReport.status as README/mappings define it from the assessment. */
function reportStatus(row: ReportRow): DiagnosticReport['status'] {
  switch (row.status) {
    case 'completed':
      return row.requires_review ? 'preliminary' : 'final';
    case 'pending':
      return 'registered';
    case 'processing':
      return 'partial';
    case 'failed':
      return 'cancelled';
    default:
      return 'unknown';
  }
}

const key = (r: FhirResource) => `${r.resourceType}/${r.id}`;

describe(`journey: EHR backend pulls DiagnosticReports (${testBackend()})`, () => {
  let db: TestDatabase;
  let gateway: Gateway;
  let client: FhirKitClient;
  let clinic: string;
  let otherClinic: string;
  /** The patient whose reports are pulled. */
  let patient: string;
  /** A cardiology report of the patient soft-deleted before the pull. */
  let deletedReport: string;
  /** A cardiology report about the patient recorded by the other organization (a second clinic they visit). */
  let foreignReport: string;
  let foreignObservation: string;
  /** Reports as they were when the pull started. */
  let before: Map<string, ReportRow>;

  beforeAll(async () => {
    db = await openTestDatabase();
    const ds = db.dataSource;
    const demo = await generateDemoData(ds, { patients: 24, assessmentsPerPatient: 10, organizations: 2, clinicians: 2, seed: 11 });
    [clinic, otherClinic] = demo.organizationIds;

    // The clinic's patient with the most final cardiology reports who also has reports of another
    // pipeline (so that the category filter has something to leave out).
    [{ id: patient }] = await ds.query(
      `SELECT a.user_id AS id
         FROM assessments a JOIN users u ON u.id = a.user_id
        WHERE u.organization_id = $1 AND a.organization_id = $1 AND a.deleted_at IS NULL
        GROUP BY a.user_id
       HAVING count(*) FILTER (WHERE a.pipeline_type <> 'cardiology') > 0
        ORDER BY count(*) FILTER (WHERE a.pipeline_type = 'cardiology' AND a.status = 'completed' AND NOT a.requires_review) DESC, a.user_id
        LIMIT 1`,
      [clinic],
    );

    // What the MediLens backend did before the pull: one report retracted (soft-deleted), a new ECG
    // still pending, and the other organization recorded an ECG of the same patient.
    [{ id: deletedReport }] = await ds.query(
      `UPDATE assessments SET deleted_at = now()
        WHERE id = (SELECT id FROM assessments WHERE user_id = $1 AND organization_id = $2 AND pipeline_type = 'cardiology'
                       AND status = 'completed' AND deleted_at IS NULL ORDER BY id DESC LIMIT 1)
        RETURNING id`,
      [patient, clinic],
    );
    await ds.query(
      `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type, status) VALUES ('journey-pending-ecg', $1, $2, 'cardiology', 'pending')`,
      [patient, clinic],
    );
    foreignReport = await insertAssessment(ds, patient, otherClinic, 'cardiology');
    foreignObservation = await insertBiomarker(ds, foreignReport, 'heart_rate', 81);

    before = new Map(
      (
        (await ds.query(
          `SELECT id, status, requires_review FROM assessments
            WHERE user_id = $1 AND organization_id = $2 AND pipeline_type = 'cardiology' AND deleted_at IS NULL ORDER BY id`,
          [patient, clinic],
        )) as ReportRow[]
      ).map((r) => [r.id, r]),
    );
    // The walk needs several pages, and final reports both on the first page and after it.
    expect(before.size).toBeGreaterThan(2 * PAGE);
    const ids = [...before.keys()];
    expect(ids.slice(0, PAGE).some((id) => reportStatus(before.get(id)!) === 'final')).toBe(true);
    expect(ids.slice(PAGE).some((id) => reportStatus(before.get(id)!) === 'final')).toBe(true);

    gateway = await startGateway(db);
    const ehrKey = await clientKey('ES384');
    await registerClient(ds, { clientId: 'ehr-pull', jwks: { keys: [ehrKey.publicJwk] }, scope: SCOPE, organizationId: clinic });
    client = await fhirKitClient(gateway.fhirBase);
    const { tokenUrl } = await client.smartAuthMetadata();
    expect(String(tokenUrl)).toBe(`${gateway.baseUrl}/auth/token`);
    const token = await backendServiceToken(String(tokenUrl), 'ehr-pull', ehrKey, SCOPE);
    expect(token).toMatchObject({ token_type: 'Bearer', scope: SCOPE });
    client.bearerToken = token.access_token;
  });

  afterAll(async () => {
    await gateway?.server.stop(1000);
    await db?.close();
  });

  it('pulls every report with its results and provenance page by page, sees a mid-pull change as a new version', async () => {
    const ds = db.dataSource;
    const who = (await client.read({ resourceType: 'Patient', id: patient })) as Patient;
    expect(who.managingOrganization).toEqual({ reference: `Organization/${clinic}` });

    const ids = [...before.keys()];
    const firstPage = ids.slice(0, PAGE);
    // Flagged for review mid-pull: one report already received (page 1), one still ahead.
    const changedSeen = firstPage.find((id) => reportStatus(before.get(id)!) === 'final')!;
    const changedAhead = ids.slice(PAGE).find((id) => reportStatus(before.get(id)!) === 'final')!;

    const [{ now: pullStarted }] = await ds.query(`SELECT clock_timestamp() AS now`);
    const first = await client.search({
      resourceType: 'DiagnosticReport',
      searchParams: {
        patient,
        category: CARDIOLOGY,
        _include: 'DiagnosticReport:result',
        _revinclude: 'Provenance:target',
        _count: PAGE,
      },
    });
    const pages = await walk(client, first, async (_page, n) => {
      if (n !== 1) return;
      for (const id of [changedSeen, changedAhead]) {
        await ds.query(`UPDATE assessments SET requires_review = true, review_reason = 'flagged by the journey' WHERE id = $1`, [id]);
      }
    });

    // Every page: at most _count reports, then their Observations and Provenances, each resolvable.
    const received = new Map<string, FhirResource>();
    const problems: string[] = [];
    for (const [n, page] of pages.entries()) {
      expect(page).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
      for (const e of page.entry ?? []) expect(e.fullUrl).toBe(`${gateway.fhirBase}/${key(e.resource!)}`);
      const reports = resourcesOf<DiagnosticReport>(page, 'match');
      const included = resourcesOf(page, 'include');
      expect(reports.length).toBeLessThanOrEqual(PAGE);
      if (n < pages.length - 1) expect(reports.length).toBe(PAGE);
      expect(reports.every((r) => r.resourceType === 'DiagnosticReport')).toBe(true);
      expect(included.every((r) => r.resourceType === 'Observation' || r.resourceType === 'Provenance')).toBe(true);

      const here = new Map((page.entry ?? []).map((e: BundleEntry) => [key(e.resource!), e.resource!]));
      const resultRefs = new Set<string>();
      for (const report of reports) {
        expect(report.subject).toEqual({ reference: `Patient/${patient}` });
        for (const { reference } of report.result ?? []) {
          resultRefs.add(reference!);
          const observation = (here.get(reference!) ?? received.get(reference!)) as Observation | undefined;
          if (!observation) problems.push(`page ${n + 1}: ${key(report)} result ${reference} is in no bundle`);
          else if (observation.subject?.reference !== `Patient/${patient}`) problems.push(`${reference} is about ${observation.subject?.reference}`);
        }
      }
      for (const observation of included.filter((r) => r.resourceType === 'Observation')) {
        if (!resultRefs.has(key(observation))) problems.push(`page ${n + 1}: ${key(observation)} included but no report of the page has it`);
      }
      const provenances = included.filter((r): r is Provenance => r.resourceType === 'Provenance');
      for (const provenance of provenances) {
        const report = reports.find((r) => r.id === provenance.id);
        if (!report) {
          problems.push(`page ${n + 1}: ${key(provenance)} has no report on its page`);
          continue;
        }
        // Target: the report first, then each of its Observations.
        expect(provenance.target).toEqual([{ reference: key(report) }, ...(report.result ?? []).map((r) => ({ reference: r.reference }))]);
      }
      // Exactly the completed reports have an AI Provenance.
      expect(provenances.map((p) => p.id).sort()).toEqual(reports.filter((r) => before.get(r.id!)?.status === 'completed').map((r) => r.id).sort());
      for (const [k, r] of here) {
        if (received.has(k) && r.resourceType === 'DiagnosticReport') problems.push(`${k} received twice`);
        received.set(k, r);
      }
    }
    expect(problems).toEqual([]);

    // The set (and id order) of the reports is what the database holds for the patient in this clinic.
    const matched = pages.flatMap((p) => resourcesOf<DiagnosticReport>(p, 'match'));
    expect(matched.map((r) => r.id)).toEqual(ids);
    expect(matched.map((r) => r.id)).not.toContain(deletedReport);
    expect(pages).toHaveLength(Math.ceil(ids.length / PAGE));

    // As received: each report in its state when its page was served.
    for (const report of matched) {
      if (report.id === changedAhead) {
        expect(report).toMatchObject({ status: 'preliminary', meta: { versionId: '2' } });
      } else {
        expect(report).toMatchObject({ status: reportStatus(before.get(report.id!)!), meta: { versionId: '1' } });
      }
      expect(report.performer).toEqual([{ reference: `Organization/${clinic}` }]);
    }

    // Every Observation of those reports, once, with the value the database holds.
    const observations: { id: string; assessment_id: string; value: number }[] = await ds.query(
      `SELECT id, assessment_id, value::float8 AS value FROM biomarker_values WHERE assessment_id = ANY($1::uuid[]) ORDER BY id`,
      [ids],
    );
    expect(observations.length).toBeGreaterThan(0);
    const receivedObservations = [...received.values()].filter((r): r is Observation => r.resourceType === 'Observation');
    expect(receivedObservations.map((o) => o.id).sort()).toEqual(observations.map((o) => o.id));
    for (const o of observations) {
      expect((received.get(`Observation/${o.id}`) as Observation).valueQuantity?.value).toBe(o.value);
    }
    for (const o of receivedObservations) {
      const row = observations.find((r) => r.id === o.id)!;
      if (row.assessment_id === changedAhead) expect(o).toMatchObject({ status: 'preliminary', meta: { versionId: '2' } });
      if (row.assessment_id === changedSeen) expect(o).toMatchObject({ status: 'final', meta: { versionId: '1' } });
    }
    const receivedProvenances = [...received.values()].filter((r): r is Provenance => r.resourceType === 'Provenance');
    expect(receivedProvenances.map((p) => p.id).sort()).toEqual(ids.filter((id) => before.get(id)!.status === 'completed'));
    for (const p of receivedProvenances) {
      // A Provenance is the same assessment row as its report: it changed with it.
      expect(p.meta?.versionId).toBe(p.id === changedAhead ? '2' : '1');
      for (const agent of p.agent) {
        for (const ref of [agent.who?.reference, agent.onBehalfOf?.reference].filter((r) => r?.startsWith('Organization/'))) {
          expect(ref).toBe(`Organization/${clinic}`);
        }
      }
    }

    // Nothing of the other organization, not even what it recorded about this very patient.
    const foreign: string[] = (
      await ds.query(
        `SELECT id FROM assessments WHERE organization_id IS DISTINCT FROM $1
         UNION ALL SELECT id FROM biomarker_values WHERE organization_id IS DISTINCT FROM $1
         UNION ALL SELECT id FROM users WHERE organization_id IS DISTINCT FROM $1
         UNION ALL SELECT id FROM organizations WHERE id <> $1`,
        [clinic],
      )
    ).map((r: { id: string }) => r.id);
    expect(foreign).toEqual(expect.arrayContaining([foreignReport, foreignObservation, otherClinic]));
    const everyId = pages.flatMap((p) => (p.entry ?? []).map((e) => e.resource!.id!));
    expect(everyId.filter((id) => foreign.includes(id))).toEqual([]);
    expect(JSON.stringify(pages)).not.toContain(otherClinic);

    // Afterwards: both flagged reports are version 2 (preliminary); version 1 is still the final one.
    for (const id of [changedSeen, changedAhead]) {
      const current = (await client.read({ resourceType: 'DiagnosticReport', id })) as DiagnosticReport;
      expect(current).toMatchObject({ resourceType: 'DiagnosticReport', id, status: 'preliminary', meta: { versionId: '2' } });
      const v1 = (await client.vread({ resourceType: 'DiagnosticReport', id, version: 1 })) as DiagnosticReport;
      expect(v1).toMatchObject({ resourceType: 'DiagnosticReport', id, status: 'final', meta: { versionId: '1' } });
      // Apart from status and meta, version 1 is the report as it was received before the change.
      if (id === changedSeen) {
        const { meta: _m1, status: _s1, ...asReceived } = received.get(`DiagnosticReport/${id}`) as DiagnosticReport;
        const { meta: _m2, status: _s2, ...asVersion1 } = v1;
        expect(asVersion1).toEqual(asReceived);
        expect(v1.meta?.lastUpdated).toBe((received.get(`DiagnosticReport/${id}`) as DiagnosticReport).meta?.lastUpdated);
      }
      expect(Date.parse(current.meta!.lastUpdated!)).toBeGreaterThan(Date.parse(v1.meta!.lastUpdated!));
      for (const [resource, etag] of [[current, 'W/"2"'], [v1, 'W/"1"']] as const) {
        const headers = responseOf(resource).headers;
        expect(headers.get('etag')).toBe(etag);
        expect(headers.get('last-modified')).toBe(new Date(resource.meta!.lastUpdated!).toUTCString());
        expect(headers.get('content-type')).toMatch(/^application\/fhir\+json/);
      }

      const history = (await client.request(`DiagnosticReport/${id}/_history`)) as Bundle;
      expect(history.type).toBe('history');
      expect(history.entry!.map((e) => e.response?.etag)).toEqual(['W/"2"', 'W/"1"']);
      expect(history.entry!.map((e) => (e.resource as DiagnosticReport).status)).toEqual(['preliminary', 'final']);
      expect(history.entry!.map((e) => e.request?.method)).toEqual(['PUT', 'POST']);

      expect(await client.read({ resourceType: 'Provenance', id })).toMatchObject({ id, meta: { versionId: '2' } });
      const provenanceV1 = await client.vread({ resourceType: 'Provenance', id, version: 1 });
      expect(provenanceV1).toMatchObject({ id, meta: { versionId: '1' } });
      if (id === changedSeen) {
        const { meta: _m3, ...asReceived } = received.get(`Provenance/${id}`) as Provenance;
        const { meta: _m4, ...asVersion1 } = provenanceV1 as Provenance;
        expect(asVersion1).toEqual(asReceived);
      }

      // The report's Observations carry its review state too: a new version each.
      for (const o of observations.filter((r) => r.assessment_id === id)) {
        expect(await client.read({ resourceType: 'Observation', id: o.id })).toMatchObject({ status: 'preliminary', meta: { versionId: '2' } });
        expect(await client.vread({ resourceType: 'Observation', id: o.id, version: 1 })).toMatchObject({ status: 'final', meta: { versionId: '1' } });
      }
    }
    // The next incremental sync: what changed since the pull started is exactly the two new versions.
    const since = (pullStarted as Date).toISOString();
    const changes = await walk(client, (await client.request(`DiagnosticReport/_history?_since=${since}&_count=1`)) as Bundle);
    expect(changes.flatMap((b) => (b.entry ?? []).map((e) => `${(e.resource as DiagnosticReport).id}@${e.response?.etag}:${(e.resource as DiagnosticReport).status}`)).sort()).toEqual(
      [changedSeen, changedAhead].map((id) => `${id}@W/"2":preliminary`).sort(),
    );
    const changedObservations = await walk(client, (await client.request(`Observation/_history?_since=${since}`)) as Bundle);
    expect(changedObservations.flatMap((b) => (b.entry ?? []).map((e) => e.resource!.id)).sort()).toEqual(
      observations.filter((o) => o.assessment_id === changedSeen || o.assessment_id === changedAhead).map((o) => o.id).sort(),
    );

    // Reports nobody touched are still version 1.
    const untouched = ids.find((id) => id !== changedSeen && id !== changedAhead)!;
    expect(await client.read({ resourceType: 'DiagnosticReport', id: untouched })).toMatchObject({ meta: { versionId: '1' } });
  });

  it("is refused the other organization's data by id, by search and through references", async () => {
    const ds = db.dataSource;
    for (const [resourceType, id] of [
      ['DiagnosticReport', foreignReport],
      ['Provenance', foreignReport],
      ['Observation', foreignObservation],
    ] as const) {
      const refused = await failure(client.read({ resourceType, id }));
      expect(refused?.status).toBe(404);
      expect(refused?.data.issue[0].code).toBe('not-found');
      expect((await failure(client.vread({ resourceType, id, version: 1 })))?.status).toBe(404);
      expect((await failure(client.request(`${resourceType}/${id}/_history`)))?.status).toBe(404);
    }

    const [{ id: stranger }] = await ds.query(
      `SELECT a.user_id AS id FROM assessments a JOIN users u ON u.id = a.user_id
        WHERE u.organization_id = $1 AND a.organization_id = $1 AND a.pipeline_type = 'cardiology' AND a.deleted_at IS NULL
        ORDER BY a.user_id LIMIT 1`,
      [otherClinic],
    );
    expect((await failure(client.read({ resourceType: 'Patient', id: stranger })))?.status).toBe(404);
    const searches: Record<string, string | number>[] = [
      { patient: stranger, category: CARDIOLOGY, _include: 'DiagnosticReport:result', _revinclude: 'Provenance:target' },
      { _id: foreignReport, _revinclude: 'Provenance:target' },
      { result: `Observation/${foreignObservation}` },
    ];
    for (const searchParams of searches) {
      const bundle = await client.search({ resourceType: 'DiagnosticReport', searchParams });
      expect(bundle.type).toBe('searchset');
      expect(bundle.entry ?? []).toEqual([]);
    }
    const provenance = await client.search({ resourceType: 'Provenance', searchParams: { target: `DiagnosticReport/${foreignReport}` } });
    expect(provenance.entry ?? []).toEqual([]);

    // The patient's whole record as this clinic holds it: no report of the other organization.
    const all = await walk(client, await client.search({ resourceType: 'DiagnosticReport', searchParams: { patient, _count: 50 } }));
    const expected = (
      await ds.query(`SELECT id FROM assessments WHERE user_id = $1 AND organization_id = $2 AND deleted_at IS NULL ORDER BY id`, [patient, clinic])
    ).map((r: { id: string }) => r.id);
    expect(all.flatMap((p) => resourcesOf(p, 'match').map((r) => r.id))).toEqual(expected);
  });
});
