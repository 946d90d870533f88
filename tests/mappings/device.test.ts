import { toDevice, type DeviceRow } from '../../mappings/device';

const ctx = { canonicalBase: 'https://fhir.example.org' };
const base = 'https://fhir.example.org';

const row: DeviceRow = {
  id: '4f6b2c1e-9d3a-4e5f-8a7b-1c2d3e4f5a01',
  organization_id: null,
  patient_id: null,
  version_id: 1,
  last_updated: new Date('2025-03-17T09:00:00Z'),
  deleted_at: null,
  pipeline_type: 'retinal',
  model_name: 'DR Classifier v4',
  version: '4.0.0',
  framework: 'pytorch',
  accuracy: 0.93,
  precision_score: 0.9125,
  recall_score: 0.9418,
  f1_score: 0.9269,
  is_active: true,
  deployed_at: new Date('2025-03-17T09:00:00Z'),
  deprecated_at: null,
};

const metric = (code: string, display: string, value: number) => ({
  type: { coding: [{ system: `${base}/CodeSystem/device-property`, code, display }], text: display },
  valueQuantity: [{ value, system: 'http://unitsofmeasure.org', code: '1' }],
});

describe('toDevice', () => {
  it('maps a model as an AI Device: name, version, AI/ML + pipeline type, metrics as properties', () => {
    expect(toDevice(row, ctx)).toEqual({
      resourceType: 'Device',
      id: row.id,
      meta: { versionId: '1', lastUpdated: '2025-03-17T09:00:00.000Z' },
      status: 'active',
      deviceName: [{ name: 'DR Classifier v4', type: 'model-name' }],
      type: {
        coding: [
          { system: 'http://hl7.org/fhir/uv/aitransparency/CodeSystem/AIdeviceTypeCS', code: 'Artificial-Intelligence', display: 'All kinds of Artificial Intelligence' },
          { system: `${base}/CodeSystem/device-type`, code: 'ai-ml-model', display: 'AI/ML model' },
          { system: `${base}/CodeSystem/pipeline`, code: 'retinal', display: 'Retinal' },
        ],
        text: 'AI/ML model (retinal pipeline)',
      },
      version: [{ value: '4.0.0' }],
      property: [
        metric('accuracy', 'Accuracy', 0.93),
        metric('precision', 'Precision', 0.9125),
        metric('recall', 'Recall', 0.9418),
        metric('f1-score', 'F1 score', 0.9269),
        { type: { coding: [{ system: `${base}/CodeSystem/device-property`, code: 'framework', display: 'Framework' }], text: 'Framework' }, valueCode: [{ text: 'pytorch' }] },
      ],
    });
  });

  it.each<[Partial<DeviceRow>, string]>([
    [{ is_active: false }, 'inactive'],
    [{ is_active: null }, 'inactive'],
    [{ deprecated_at: '2026-01-01T00:00:00+00:00' }, 'inactive'],
    [{ is_active: true, deprecated_at: null }, 'active'],
  ])('status %p -> %s', (change, status) => expect(toDevice({ ...row, ...change }, ctx).status).toBe(status));

  it('leaves out metrics the registry does not have', () => {
    const device = toDevice({ ...row, accuracy: null, precision_score: null, recall_score: null, f1_score: null, framework: null }, ctx);
    expect(device.property).toBeUndefined();
  });

  it('maps a history snapshot (string timestamps) like the live row', () => {
    const snapshot = JSON.parse(JSON.stringify({ ...row, last_updated: '2025-03-17T09:00:00.000444+00:00' })) as DeviceRow;
    expect(toDevice(snapshot, ctx)).toEqual(toDevice(row, ctx));
  });
});
