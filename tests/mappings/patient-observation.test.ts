import { biomarkerCode, observationCategories, ucumCode } from '../../mappings/codes';
import { toObservation, type ObservationRow } from '../../mappings/observation';
import { administrativeGender, toPatient, type PatientRow } from '../../mappings/patient';

const ctx = { canonicalBase: 'https://fhir.example.org' };

const patientRow: PatientRow = {
  id: '0b6efac4-0054-411e-9944-cfdf241b96a8',
  first_name: 'Fatima',
  last_name: 'Kim',
  email: 'fatima@example.org',
  birth_date: '1963-08-27',
  gender: 'female',
  organization_id: '6e33e1ca-8a78-4e66-ae60-f0824239f992',
  patient_id: '0b6efac4-0054-411e-9944-cfdf241b96a8',
  version_id: 3,
  is_active: true,
  deleted_at: null,
  last_updated: new Date('2026-01-01T00:00:00Z'),
  language: 'en',
  ethnicity: 'Not Hispanic or Latino',
  fitzpatrick_type: 5,
  identifiers: null,
};

const observationRow: ObservationRow = {
  id: 'd193d21a-b57e-4c82-929a-6e9f28bf14bf',
  organization_id: patientRow.organization_id,
  patient_id: patientRow.id,
  version_id: 2,
  last_updated: '2026-03-01T10:07:00.123456+00:00',
  assessment_id: '1f0e6c52-77a1-4c57-bb1e-3b8d0a4f3c11',
  biomarker_name: 'heart_rate',
  biomarker_category: 'vital',
  value: 112,
  unit: 'bpm',
  normal_range_min: 60,
  normal_range_max: 100,
  status: 'abnormal',
  confidence: 0.91,
  percentile: 97,
  created_at: '2026-03-01T10:00:05Z',
  pipeline_type: 'cardiology',
  assessment_status: 'completed',
  requires_review: false,
  effective_at: '2026-03-01T10:00:00Z',
  device_id: '4f6b2c1e-9d3a-4e5f-8a7b-1c2d3e4f5a03',
  deleted_at: null,
};

describe('toPatient', () => {
  it('maps users + user_profiles', () => {
    expect(toPatient(patientRow, ctx)).toEqual({
      resourceType: 'Patient',
      id: patientRow.id,
      meta: { versionId: '3', lastUpdated: '2026-01-01T00:00:00.000Z' },
      identifier: [{ use: 'secondary', system: 'https://fhir.example.org/sid/user-id', value: patientRow.id }],
      active: true,
      extension: [
        { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity', extension: [{ url: 'text', valueString: 'Not Hispanic or Latino' }] },
        { url: 'https://fhir.example.org/StructureDefinition/fitzpatrick-skin-type', valueInteger: 5 },
      ],
      name: [{ use: 'official', family: 'Kim', given: ['Fatima'] }],
      telecom: [{ system: 'email', value: 'fatima@example.org' }],
      gender: 'female',
      birthDate: '1963-08-27',
      managingOrganization: { reference: 'Organization/6e33e1ca-8a78-4e66-ae60-f0824239f992' },
      communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'en' }] } }],
    });
  });

  it('leaves out what MediLens does not know, and a deleted or inactive user is not active', () => {
    const sparse = toPatient(
      { ...patientRow, first_name: null, last_name: null, email: null, birth_date: null, gender: null, organization_id: null, language: null, ethnicity: null, fitzpatrick_type: null, deleted_at: new Date() },
      ctx,
    );
    expect(Object.keys(sparse).sort()).toEqual(['active', 'gender', 'id', 'identifier', 'meta', 'resourceType']);
    expect(sparse).toMatchObject({ active: false, gender: 'unknown' });
    expect(toPatient({ ...patientRow, is_active: false }, ctx).active).toBe(false);
  });

  it('lists the identifiers hospitals pushed after the MediLens one, with everything else they sent', () => {
    const patient = toPatient(
      {
        ...patientRow,
        identifiers: [
          {
            system: 'urn:oid:1.2.36.146.595.217.0.1',
            value: 'MRN-0042',
            use: 'usual',
            type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] },
          },
          { system: 'http://hospital.example.org/mrn', value: '7' },
        ],
      },
      ctx,
    );
    expect(patient.identifier).toEqual([
      { use: 'secondary', system: 'https://fhir.example.org/sid/user-id', value: patientRow.id },
      {
        use: 'usual',
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] },
        system: 'urn:oid:1.2.36.146.595.217.0.1',
        value: 'MRN-0042',
      },
      { system: 'http://hospital.example.org/mrn', value: '7' },
    ]);
  });

  it('maps a history snapshot (to_jsonb of the view row: string timestamps) like the live row', () => {
    const snapshot = JSON.parse(JSON.stringify({ ...patientRow, last_updated: '2026-01-01T00:00:00.000987+00:00' })) as PatientRow;
    expect(toPatient(snapshot, ctx)).toEqual(toPatient(patientRow, ctx));
  });

  it.each([
    ['male', 'male'], ['M', 'male'], ['Female', 'female'], ['non-binary', 'other'], ['prefer_not_to_say', 'unknown'], [null, 'unknown'],
  ])('gender %p -> %p', (value, expected) => expect(administrativeGender(value)).toBe(expected));
});

describe('toObservation', () => {
  it('maps a heart rate with LOINC, vital-signs, UCUM, range, interpretation, device and AI label', () => {
    expect(toObservation(observationRow, ctx)).toEqual({
      resourceType: 'Observation',
      id: observationRow.id,
      meta: {
        versionId: '2',
        lastUpdated: '2026-03-01T10:07:00.123Z',
        security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST', display: 'Artificial Intelligence asserted' }],
      },
      status: 'final',
      category: [
        { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] },
        { coding: [{ system: 'https://fhir.example.org/CodeSystem/pipeline', code: 'cardiology' }] },
        { coding: [{ system: 'https://fhir.example.org/CodeSystem/biomarker-category', code: 'vital' }] },
      ],
      code: {
        coding: [
          { system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' },
          { system: 'https://fhir.example.org/CodeSystem/biomarker', code: 'heart_rate', display: 'Heart rate' },
        ],
        text: 'Heart rate',
      },
      subject: { reference: `Patient/${patientRow.id}` },
      effectiveDateTime: '2026-03-01T10:00:00.000Z',
      issued: '2026-03-01T10:00:05.000Z',
      valueQuantity: { value: 112, unit: 'bpm', system: 'http://unitsofmeasure.org', code: '/min' },
      interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'H', display: 'High' }] }],
      referenceRange: [
        {
          low: { value: 60, unit: 'bpm', system: 'http://unitsofmeasure.org', code: '/min' },
          high: { value: 100, unit: 'bpm', system: 'http://unitsofmeasure.org', code: '/min' },
        },
      ],
      device: { reference: 'Device/4f6b2c1e-9d3a-4e5f-8a7b-1c2d3e4f5a03' },
      extension: [
        { url: 'https://fhir.example.org/StructureDefinition/confidence', valueDecimal: 0.91 },
        { url: 'https://fhir.example.org/StructureDefinition/percentile', valueDecimal: 97 },
      ],
    });
  });

  it.each<[Partial<ObservationRow>, string]>([
    [{ assessment_status: 'completed', requires_review: true }, 'preliminary'],
    [{ assessment_status: 'processing' }, 'preliminary'],
    [{ assessment_status: 'failed' }, 'cancelled'],
    [{ deleted_at: new Date() }, 'entered-in-error'],
  ])('status from the assessment %p -> %s', (change, status) => {
    expect(toObservation({ ...observationRow, ...change }, ctx).status).toBe(status);
  });

  it('maps a history snapshot (to_jsonb: microsecond strings, offsets) like the live row it was', () => {
    const live: ObservationRow = {
      ...observationRow,
      last_updated: new Date('2026-03-01T10:07:00.123Z'),
      created_at: new Date('2026-03-01T10:00:05Z'),
      effective_at: new Date('2026-03-01T10:00:00Z'),
    };
    const snapshot: ObservationRow = {
      ...observationRow,
      last_updated: '2026-03-01T10:07:00.123999+00:00',
      created_at: '2026-03-01T11:00:05+01:00',
      effective_at: '2026-03-01T10:00:00+00:00',
    };
    expect(toObservation(snapshot, ctx)).toEqual(toObservation(live, ctx));
  });

  it('leaves the biomarker category out when MediLens has none', () => {
    expect(toObservation({ ...observationRow, biomarker_category: null }, ctx).category).toHaveLength(2);
  });

  it('interprets L, N, and A without a range; leaves out unknown units from UCUM', () => {
    expect(toObservation({ ...observationRow, value: 50 }, ctx).interpretation?.[0].coding?.[0].code).toBe('L');
    expect(toObservation({ ...observationRow, value: 70 }, ctx).interpretation?.[0].coding?.[0].code).toBe('N');
    const noRange = toObservation({ ...observationRow, normal_range_min: null, normal_range_max: null, unit: 'widgets' }, ctx);
    expect(noRange.interpretation?.[0].coding?.[0].code).toBe('A');
    expect(noRange.referenceRange).toBeUndefined();
    expect(noRange.valueQuantity).toEqual({ value: 112, unit: 'widgets' });
  });
});

describe('the code map', () => {
  it('gives LOINC only where one exists, always the MediLens code', () => {
    expect(biomarkerCode(ctx, 'vessel_density').coding).toEqual([
      { system: 'https://fhir.example.org/CodeSystem/biomarker', code: 'vessel_density', display: 'Vessel density' },
    ]);
    expect(biomarkerCode(ctx, 'qtc').coding?.[0]).toEqual({ system: 'http://loinc.org', code: '8636-3', display: 'Q-T interval corrected' });
    expect(biomarkerCode(ctx, 'sdnn').coding?.[0]).toMatchObject({ system: 'http://loinc.org', code: '80404-7' });
    // RMSSD has no LOINC term of its own: no near miss.
    expect(biomarkerCode(ctx, 'rmssd').coding).toHaveLength(1);
  });

  it.each([
    ['retinal', 'vessel_density', 'imaging'], ['speech', 'jitter', 'exam'], ['cardiology', 'qrs_duration', 'procedure'],
    ['cardiology', 'heart_rate', 'vital-signs'], ['cognitive', 'memory_score', 'survey'], ['future-pipeline', 'x', 'exam'],
  ])('%s %s is %s', (pipeline, biomarker, category) => {
    expect(observationCategories(ctx, pipeline, biomarker)[0].coding?.[0].code).toBe(category);
  });

  it.each([['1', '1'], ['%', '%'], ['bpm', '/min'], ['ms', 'ms'], ['widgets', null], [null, null]])('unit %p is UCUM %p', (unit, code) => {
    expect(ucumCode(unit)).toBe(code);
  });
});
