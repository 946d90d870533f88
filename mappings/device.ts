import type { Device, DeviceProperty } from 'fhir/r4';
import { deviceType, medilensSystems, UCUM } from './codes';
import { versionMeta, type MappingContext, type Timestamp, type ViewRow } from './context';

/** One row of fhir_device: a model_registry entry (global: no organization, no patient). */
export interface DeviceRow extends ViewRow {
  pipeline_type: string;
  model_name: string;
  version: string;
  framework: string | null;
  accuracy: number | null;
  precision_score: number | null;
  recall_score: number | null;
  f1_score: number | null;
  is_active: boolean | null;
  deployed_at: Timestamp | null;
  deprecated_at: Timestamp | null;
}

/** Performance metrics as Device.property: code in the MediLens device-property CodeSystem, ratio 0..1. */
const METRICS: readonly { column: 'accuracy' | 'precision_score' | 'recall_score' | 'f1_score'; code: string; display: string }[] = [
  { column: 'accuracy', code: 'accuracy', display: 'Accuracy' },
  { column: 'precision_score', code: 'precision', display: 'Precision' },
  { column: 'recall_score', code: 'recall', display: 'Recall' },
  { column: 'f1_score', code: 'f1-score', display: 'F1 score' },
];

/**
 * The AI model that produced results (AI Transparency IG "AI Device"; type: see deviceType). A model that
 * is not deployed, or deprecated, is inactive. deployed_at has no R4 Device element and is left out.
 */
export function toDevice(row: DeviceRow, ctx: MappingContext): Device {
  const systems = medilensSystems(ctx);
  const device: Device = {
    resourceType: 'Device',
    id: row.id,
    meta: versionMeta(row),
    status: row.is_active === true && row.deprecated_at === null && row.deleted_at === null ? 'active' : 'inactive',
    deviceName: [{ name: row.model_name, type: 'model-name' }],
    type: deviceType(ctx, row.pipeline_type),
    version: [{ value: row.version }],
  };
  const property: DeviceProperty[] = [];
  for (const metric of METRICS) {
    const value = row[metric.column];
    if (value === null) continue;
    property.push({
      type: { coding: [{ system: systems.deviceProperty, code: metric.code, display: metric.display }], text: metric.display },
      valueQuantity: [{ value, system: UCUM, code: '1' }],
    });
  }
  if (row.framework) {
    property.push({
      type: { coding: [{ system: systems.deviceProperty, code: 'framework', display: 'Framework' }], text: 'Framework' },
      valueCode: [{ text: row.framework }],
    });
  }
  if (property.length) device.property = property;
  return device;
}
