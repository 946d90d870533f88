import { deviceType, PIPELINE_TYPES } from '../../../mappings/codes';
import { toDevice, type DeviceRow } from '../../../mappings/device';
import type { ResourceDefinition } from '../definition';
import { codedColumnPredicate, commonParameters, lastUpdatedSort } from './common';

/** Device <- fhir_device: the AI models of the model registry (AI Transparency "AI Device"). */
export function deviceDefinition(canonicalBase: string): ResourceDefinition<DeviceRow> {
  const types = Object.fromEntries(PIPELINE_TYPES.map((p) => [p, deviceType({ canonicalBase }, p).coding ?? []]));
  return {
    type: 'Device',
    tenancy: 'shared',
    view: 'fhir_device',
    parameters: {
      ...commonParameters(),
      type: {
        type: 'token',
        description: 'Device type: the AI/ML model type coding, or the MediLens pipeline it serves',
        definition: 'http://hl7.org/fhir/SearchParameter/Device-type',
        where: codedColumnPredicate('r.pipeline_type', types),
      },
      version: {
        type: 'token',
        description: 'The model version (a MediLens search parameter: Device has none in R4)',
        definition: `${canonicalBase}/SearchParameter/Device-version`,
        where: (params, token) => (token.system === undefined && token.code !== null ? `r.version = ${params.add(token.code)}` : 'FALSE'),
      },
    },
    sorts: { _lastUpdated: lastUpdatedSort },
    includes: {},
    summary: ['identifier', 'udiCarrier', 'status', 'deviceName', 'modelNumber', 'type', 'version', 'owner'],
    toResource: toDevice,
  };
}
