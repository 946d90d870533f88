import crypto from 'node:crypto';
import request from 'supertest';
import type { Bundle, DiagnosticReport, Observation } from 'fhir/r4';
import { ingestFixture, type IngestFixture } from '../ingest/fixture';
import { completeDocument } from '../ingest/documents';
import { testBackend } from '../support/database';

describe(`Transaction Bundles: smoke (${testBackend()})`, () => {
  let f: IngestFixture;
  let token: string;
  beforeAll(async () => {
    f = await ingestFixture();
    token = await f.token('system/DiagnosticReport.cr system/Observation.cr system/Patient.cruds');
  });
  afterAll(() => f.db.close());

  const get = (path: string) => request(f.app).get(`/fhir/${path}`).auth(token, { type: 'bearer' });
  const strip = (r: DiagnosticReport | Observation) => {
    const { id, meta, identifier, result, ...rest } = r as DiagnosticReport;
    void id; void meta; void identifier; void result;
    return rest;
  };

  it('a native result re-sent as a transaction Bundle (with a new Patient by conditional create) gives the same FHIR output', async () => {
    const native = await f.post(completeDocument('cardiology', f.patientA), token).expect(201);
    const report = (await get(`DiagnosticReport/${native.body.assessment_id}`).expect(200)).body as DiagnosticReport;
    const observations = await Promise.all(report.result!.map(async (r) => (await get(r.reference!).expect(200)).body as Observation));
    const obsUrls = observations.map(() => `urn:uuid:${crypto.randomUUID()}`);
    const patientUrl = `urn:uuid:${crypto.randomUUID()}`;
    const session = `tx-${crypto.randomUUID()}`;
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: patientUrl,
          resource: { resourceType: 'Patient', identifier: [{ system: 'http://h.example/mrn', value: 'TX-1' }], name: [{ family: 'Tx' }] },
          request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=http://h.example/mrn|TX-1' },
        },
        {
          fullUrl: `urn:uuid:${crypto.randomUUID()}`,
          resource: {
            ...report, id: undefined, meta: undefined,
            identifier: [{ ...report.identifier![0], value: session }],
            subject: { reference: patientUrl },
            result: obsUrls.map((u) => ({ reference: u })),
          } as DiagnosticReport,
          request: { method: 'POST', url: 'DiagnosticReport' },
        },
        ...observations.map((o, i) => ({
          fullUrl: obsUrls[i],
          resource: { ...o, id: undefined, meta: undefined, subject: { reference: patientUrl } } as Observation,
          request: { method: 'POST' as const, url: 'Observation' },
        })),
      ],
    };
    const res = await request(f.app).post('/fhir').auth(token, { type: 'bearer' }).set('Content-Type', 'application/fhir+json').send(JSON.stringify(bundle));
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('transaction-response');
    const [patientLoc, reportLoc] = res.body.entry.map((e: { response: { location: string } }) => e.response.location);
    expect(patientLoc).toMatch(/^Patient\/.+\/_history\/1$/);
    const again = (await get(reportLoc.replace(/\/_history\/\d+$/, '')).expect(200)).body as DiagnosticReport;
    expect(again.subject!.reference).toBe(patientLoc.replace(/\/_history\/\d+$/, ''));
    expect({ ...strip(again), subject: undefined, effectiveDateTime: undefined, issued: undefined }).toEqual({ ...strip(report), subject: undefined, effectiveDateTime: undefined, issued: undefined });
    expect(again.result).toHaveLength(observations.length);
  });
});
