import type { Extension, Patient } from 'fhir/r4';

/**
 * The US Core (6.1/7) example Patients (patient-example, child-example, infant-example) as content:
 * race and ethnicity with OMB and detailed codes, tribal affiliation, birth sex, sex, gender identity,
 * two names with periods, addresses with periods, an MRN with its type, meta.profile and the IG
 * publisher's meta extensions. The resource ids are dropped (the server assigns them); MRNs and emails
 * get a suffix so the examples can be written more than once.
 */

const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition';
const OMB = 'urn:oid:2.16.840.1.113883.6.238';
const MR_TYPE = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR', display: 'Medical Record Number' }], text: 'Medical Record Number' };
const omb = (url: string, code: string, display: string): Extension => ({ url, valueCoding: { system: OMB, code, display } });

/** us-core-race or us-core-ethnicity: OMB categories, detailed codes and the text. */
function ombExtension(kind: 'race' | 'ethnicity', categories: [string, string][], detailed: [string, string][], text: string): Extension {
  return {
    url: `${US_CORE}/us-core-${kind}`,
    extension: [...categories.map(([c, d]) => omb('ombCategory', c, d)), ...detailed.map(([c, d]) => omb('detailed', c, d)), { url: 'text', valueString: text }],
  };
}
const meta = (name: string, description: string): Patient['meta'] => ({
  profile: [`${US_CORE}/us-core-patient`],
  extension: [
    { url: 'http://hl7.org/fhir/StructureDefinition/instance-name', valueString: name },
    { url: 'http://hl7.org/fhir/StructureDefinition/instance-description', valueMarkdown: description },
  ],
});
const mrn = (value: string) => [{ use: 'usual' as const, type: MR_TYPE, system: 'http://hospital.smarthealthit.org', value }];
const meadow = { line: ['49 Meadow St'], city: 'Mounds', state: 'OK', postalCode: '74047', country: 'US' };

export function usCorePatientExample(suffix: string): Patient {
  return {
    resourceType: 'Patient',
    extension: [
      ombExtension('race', [['2106-3', 'White'], ['1002-5', 'American Indian or Alaska Native'], ['2028-9', 'Asian']], [['1586-7', 'Shoshone'], ['2036-2', 'Filipino']], 'Mixed'),
      ombExtension('ethnicity', [['2135-2', 'Hispanic or Latino']], [['2184-0', 'Dominican'], ['2148-5', 'Mexican']], 'Hispanic or Latino'),
      {
        url: `${US_CORE}/us-core-tribal-affiliation`,
        extension: [
          {
            url: 'tribalAffiliation',
            valueCodeableConcept: {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-TribalEntityUS', code: '187', display: 'Paiute-Shoshone Tribe of the Fallon Reservation and Colony, Nevada' }],
              text: 'Shoshone',
            },
          },
          { url: 'isEnrolled', valueBoolean: false },
        ],
      },
      { url: `${US_CORE}/us-core-birthsex`, valueCode: 'F' },
      { url: `${US_CORE}/us-core-sex`, valueCode: '248152002' },
      {
        url: `${US_CORE}/us-core-genderIdentity`,
        valueCodeableConcept: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor', code: 'UNK', display: 'Unknown' }], text: 'Unknown' },
      },
    ],
    meta: meta('Patient Example', 'This is a patient example for the *US Core Patient Profile*.'),
    identifier: mrn(`1032702-${suffix}`),
    active: true,
    name: [
      { use: 'old', family: 'Shaw', given: ['Amy', 'V.'], period: { start: '2016-12-06', end: '2020-07-22' } },
      { family: 'Baxter', given: ['Amy', 'V.'], suffix: ['PharmD'], period: { start: '2020-07-22' } },
    ],
    telecom: [
      { system: 'phone', value: '555-555-5555', use: 'home' },
      { system: 'email', value: `amy.shaw.${suffix}@example.com` },
    ],
    birthDate: '1987-02-20',
    address: [
      { use: 'old', ...meadow, period: { start: '2016-12-06', end: '2020-07-22' } },
      { line: ['183 Mountain View St'], city: 'Mounds', state: 'OK', postalCode: '74048', country: 'US', period: { start: '2020-07-22' } },
    ],
  };
}

function young(kind: 'Child' | 'Infant', value: string, birthDate: string, suffix: string): Patient {
  return {
    resourceType: 'Patient',
    extension: [
      ombExtension('race', [['2028-9', 'Asian']], [], 'Asian'),
      ombExtension('ethnicity', [['2186-5', 'Not Hispanic or Latino']], [], 'Not Hispanic or Latino'),
      { url: `${US_CORE}/us-core-birthsex`, valueCode: 'M' },
      { url: `${US_CORE}/us-core-sex`, valueCode: '248153007' },
    ],
    meta: meta(`Patient ${kind} Example`, `This is a patient ${kind.toLowerCase()} example for the *US Core Patient Profile*.`),
    identifier: mrn(`${value}-${suffix}`),
    active: true,
    name: [{ family: 'Example', given: [kind] }],
    telecom: [{ system: 'phone', value: '555-555-5555', use: 'home' }],
    birthDate,
    address: [{ ...meadow }],
  };
}

export const usCoreChildExample = (suffix: string) => young('Child', '1032704', '2016-01-15', suffix);
export const usCoreInfantExample = (suffix: string) => young('Infant', '1032703', '2020-06-02', suffix);
