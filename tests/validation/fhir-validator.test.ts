import fs from 'node:fs';
import { extractSchema, fullSchemaPath, SCHEMA_FILE } from '../../src/validation/extract-schema';
import { FhirValidator } from '../../src/validation/fhir-validator';

describe('FHIR R4 structural validation', () => {
  const validator = new FhirValidator();

  it('uses a schema extract that is current with the official FHIR R4 schema (npm run fhir-schema)', () => {
    const full = JSON.parse(fs.readFileSync(fullSchemaPath(), 'utf8'));
    expect(JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8'))).toEqual(extractSchema(full));
  });

  it('accepts valid resources of every accepted type', () => {
    expect(validator.validate('Patient', { resourceType: 'Patient', name: [{ family: 'A', given: ['B'] }], birthDate: '1970', gender: 'other' })).toEqual([]);
    expect(
      validator.validate('Observation', { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value: 1.5e-3, unit: 'ms' } }),
    ).toEqual([]);
    expect(validator.validate('DiagnosticReport', { resourceType: 'DiagnosticReport', status: 'final', code: { text: 'x' } })).toEqual([]);
    expect(validator.validate('Bundle', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Anything' } }] })).toEqual([]);
  });

  it.each([
    ['an unknown element', { resourceType: 'Patient', foo: 1 }, 'Patient.foo', /Unknown element 'foo'/],
    ['a string where an array belongs', { resourceType: 'Patient', name: 'Smith' }, 'Patient.name', /must be an array/],
    ['a number where a string belongs', { resourceType: 'Patient', birthDate: 19700101 }, 'Patient.birthDate', /must be a JSON string/],
    ['a bad date', { resourceType: 'Patient', birthDate: '1970-13-01' }, 'Patient.birthDate', /not a valid value/],
    ['a code outside a required binding', { resourceType: 'Patient', gender: 'robot' }, 'Patient.gender', /must be one of "male"/],
    ['an empty array', { resourceType: 'Patient', name: [] }, 'Patient.name', /must not be an empty array/],
    ['an array item that is not an object', { resourceType: 'Patient', name: [1] }, 'Patient.name[0]', /must be a JSON object/],
    ['a nested type error', { resourceType: 'Patient', identifier: [{ system: 1 }] }, 'Patient.identifier[0].system', /must be a JSON string/],
    ['an empty string', { resourceType: 'Patient', name: [{ family: '' }] }, 'Patient.name[0].family', /not a valid value/],
    ['the wrong resourceType', { resourceType: 'Observation' }, 'Patient.resourceType', /must be "Patient"/],
    ['an array instead of a resource', [], 'Patient', /must be a JSON object/],
    ['a missing required status', { resourceType: 'Observation', code: { text: 'x' } }, 'Observation.status', /Missing required element 'status'/],
    ['a missing required code', { resourceType: 'Observation', status: 'final' }, 'Observation.code', /Missing required element 'code'/],
  ])('rejects %s, naming the element', (_name, resource, expression, message) => {
    const type = expression.split(/[.[]/)[0] as 'Patient' | 'Observation';
    const issues = validator.validate(type, resource);
    expect(issues.map((i) => i.expression[0])).toContain(expression);
    expect(issues.find((i) => i.expression[0] === expression)!.diagnostics).toMatch(message);
  });

  it('reports every problem at once, and prefixes expressions for a Bundle entry', () => {
    const issues = validator.validate('Patient', { resourceType: 'Patient', gender: 'x', active: 'yes', bogus: true }, 'Bundle.entry[4].resource');
    expect(issues.map((i) => i.expression[0]).sort()).toEqual(['Bundle.entry[4].resource.active', 'Bundle.entry[4].resource.bogus', 'Bundle.entry[4].resource.gender']);
  });
});
