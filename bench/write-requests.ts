import crypto from 'node:crypto';

/**
 * What a write scenario sends, one fresh request at a time (built in the load worker, so that every
 * request carries its own MRN or session): Patient registrations by MRN, and one cardiology result of
 * ten biomarkers as a FHIR transaction Bundle or as a native document.
 */
export interface WriteTemplate {
  kind: 'patient-create' | 'patient-replay' | 'result-transaction' | 'result-native';
  /** MRNs of registered patients (replays, and the patients results are filed under). */
  mrns: string[];
}

export const MRN_SYSTEM = 'http://bench.example/mrn';
const SESSION = 'https://fhir.medilens.ai/sid/session-id';
const PIPELINE = 'https://fhir.medilens.ai/CodeSystem/pipeline';
const BIOMARKER = 'https://fhir.medilens.ai/CodeSystem/biomarker';
const BIOMARKERS: [string, number, string][] = [
  ['heart_rate', 64, '/min'], ['pr_interval', 160, 'ms'], ['qrs_duration', 92, 'ms'], ['qt_interval', 380, 'ms'], ['qtc', 412, 'ms'],
  ['rmssd', 38, 'ms'], ['sdnn', 45, 'ms'], ['pnn50', 12, '%'], ['signal_quality', 0.93, '1'], ['r_peaks', 71, '1'],
];

export function registration(mrn: string): object {
  return {
    resourceType: 'Patient',
    identifier: [{ system: MRN_SYSTEM, value: mrn }],
    name: [{ use: 'official', family: 'Bench', given: ['Pat'] }],
    telecom: [{ system: 'phone', value: '+1 555 0100' }],
    gender: 'female',
    birthDate: '1980-01-01',
    address: [{ line: ['1 Bench St'], city: 'Loadtown', country: 'US' }],
  };
}

const pick = (list: string[]) => list[Math.floor(Math.random() * list.length)];

export function writeRequest(t: WriteTemplate): { method: 'POST'; path: string; headers: Record<string, string>; body: string } {
  const json = { 'content-type': 'application/fhir+json' };
  switch (t.kind) {
    case 'patient-create':
    case 'patient-replay': {
      const mrn = t.kind === 'patient-create' ? `NEW-${crypto.randomUUID()}` : pick(t.mrns);
      return { method: 'POST', path: '/fhir/Patient', headers: { ...json, 'if-none-exist': `identifier=${MRN_SYSTEM}|${mrn}`, prefer: 'return=minimal' }, body: JSON.stringify(registration(mrn)) };
    }
    case 'result-transaction': {
      const subject = { reference: `Patient?identifier=${MRN_SYSTEM}|${pick(t.mrns)}` };
      const observations = BIOMARKERS.map(([code, value, unit]) => ({
        fullUrl: `urn:uuid:${crypto.randomUUID()}`,
        resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: BIOMARKER, code }] }, subject, valueQuantity: { value, unit } },
        request: { method: 'POST', url: 'Observation' },
      }));
      const report = {
        resourceType: 'DiagnosticReport',
        identifier: [{ system: SESSION, value: `bench-${crypto.randomUUID()}` }],
        status: 'final',
        category: [{ coding: [{ system: PIPELINE, code: 'cardiology' }] }],
        code: { coding: [{ system: 'http://loinc.org', code: '11524-6' }] },
        subject,
        effectiveDateTime: '2026-11-20T09:30:00Z',
        issued: '2026-11-20T09:31:00Z',
        result: observations.map((o) => ({ reference: o.fullUrl })),
      };
      const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: `urn:uuid:${crypto.randomUUID()}`, resource: report, request: { method: 'POST', url: 'DiagnosticReport' } }, ...observations] };
      return { method: 'POST', path: '/fhir', headers: json, body: JSON.stringify(bundle) };
    }
    case 'result-native': {
      const doc = {
        session_id: `bench-${crypto.randomUUID()}`,
        pipeline: 'cardiology',
        patient: { identifier: { system: MRN_SYSTEM, value: pick(t.mrns) } },
        status: 'completed',
        created_at: '2026-11-20T09:30:00Z',
        completed_at: '2026-11-20T09:31:00Z',
        biomarkers: BIOMARKERS.map(([name, value, unit]) => ({ name, value, unit })),
        result: { heart_rate_bpm: 64, rhythm_classification: 'normal_sinus_rhythm' },
      };
      return { method: 'POST', path: '/medilens/assessments', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) };
    }
  }
}
