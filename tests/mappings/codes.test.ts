import {
  diagnosticReportCategories,
  diagnosticReportCode,
  diagnosticReportStatus,
  medilensSystems,
  PIPELINE_REPORT,
  PIPELINE_TYPES,
  reportPipelines,
} from '../../mappings/codes';

const ctx = { canonicalBase: 'https://fhir.example.org' };
const systems = medilensSystems(ctx);

describe('the report code map', () => {
  it('has an entry for every pipeline, and the mapping functions carry exactly its codings plus the MediLens ones', () => {
    for (const pipeline of PIPELINE_TYPES) {
      const categories = diagnosticReportCategories(ctx, pipeline).flatMap((c) => c.coding ?? []);
      expect(categories).toEqual([...PIPELINE_REPORT[pipeline].categories, { system: systems.pipeline, code: pipeline }]);
      const code = diagnosticReportCode(ctx, pipeline).coding ?? [];
      expect(code.slice(0, -1)).toEqual(PIPELINE_REPORT[pipeline].code);
      expect(code.at(-1)).toMatchObject({ system: systems.report, code: pipeline });
    }
  });

  it.each<['category' | 'code', string | undefined, string | null, string[] | 'any']>([
    ['category', 'http://terminology.hl7.org/CodeSystem/v2-0074', 'EC', ['cardiology']],
    ['category', 'http://terminology.hl7.org/CodeSystem/v2-0074', 'IMG', ['retinal', 'dermatology']],
    ['category', 'http://loinc.org', 'LP29684-5', ['radiology']],
    ['category', 'http://loinc.org', null, ['cardiology', 'radiology']],
    ['category', undefined, 'RAD', ['radiology', 'RAD']],
    ['category', systems.pipeline, 'speech', ['speech']],
    ['category', systems.pipeline, 'future-pipeline', ['future-pipeline']],
    ['category', systems.pipeline, null, 'any'],
    ['category', 'http://example.org/other', 'EC', []],
    ['code', 'http://loinc.org', '11524-6', ['cardiology']],
    ['code', 'http://loinc.org', '8867-4', []],
    ['code', systems.report, 'cognitive', ['cognitive']],
    ['code', systems.pipeline, 'cognitive', []],
    ['code', undefined, '18748-4', ['radiology', '18748-4']],
  ])('%s token %s|%s matches pipelines %p', (element, system, code, expected) => {
    const found = reportPipelines(ctx, element, system, code);
    expect(found === 'any' ? found : [...found].sort()).toEqual(expected === 'any' ? expected : [...expected].sort());
  });

  it.each<[string | null, boolean | null, boolean, string]>([
    ['pending', null, false, 'registered'],
    ['processing', false, false, 'partial'],
    ['completed', false, false, 'final'],
    ['completed', true, false, 'preliminary'],
    ['failed', true, false, 'cancelled'],
    ['completed', false, true, 'entered-in-error'],
  ])('assessment %s (review %p, deleted %p) is a %s report', (status, review, deleted, expected) => {
    expect(diagnosticReportStatus(status, review, deleted)).toBe(expected);
  });
});
