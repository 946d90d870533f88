import { Command } from 'commander';
import { loadConfig } from '../../config';
import { demoSizes, generateDemoData } from '../../demo/generator';
import { resolvePhiKeys } from '../../phi/resolve';
import { withDatabase } from '../database';
import { UsageError } from '../errors';
import { count, plural, seconds } from '../format';
import { integerOption } from '../options';
import { startProgress } from '../progress';

interface DemoDataFlags {
  patients: number;
  assessmentsPerPatient: number;
  seed: number;
  organizations?: number;
  clinicians?: number;
}

export function demoDataCommand(): Command {
  return new Command('demo-data')
    .description(
      'write deterministic synthetic MediLens data (same seed and sizes, same rows); ' +
        'a dataset that is already present is skipped, a half-written one is completed',
    )
    .requiredOption('--patients <n>', 'number of patients', integerOption(1, 10_000_000))
    .option('--assessments-per-patient <m>', 'assessments per patient', integerOption(0, 1_000), 6)
    .option('--seed <s>', 'random seed', integerOption(0, 2 ** 32 - 1), 1)
    .option('--organizations <k>', 'organizations (default: one per 250 patients)', integerOption(1, 10_000))
    .option('--clinicians <c>', 'clinicians (default: one per 40 patients, at least one per organization)', integerOption(0, 1_000_000))
    .action(async (flags: DemoDataFlags) => {
      let sizes;
      try {
        sizes = demoSizes(flags);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      // The patients' medical history is encrypted with the gateway's key ring (PHI_KEYS, or the embedded key file).
      const phiKeys = resolvePhiKeys(loadConfig());
      const summary = await withDatabase(async ({ dataSource }) => {
        const progress = startProgress('demo-data', 'assessments');
        try {
          return await generateDemoData(dataSource, { ...sizes, phiKeys, onProgress: (done, total) => progress.update(done, total) });
        } finally {
          progress.stop();
        }
      });
      const dataset = `seed ${sizes.seed}, ${count(sizes.patients)} patients x ${sizes.assessmentsPerPatient} assessments`;
      if (summary.skipped) {
        console.log(`demo-data: the dataset (${dataset}) is already present, nothing written`);
        return;
      }
      const rate = summary.biomarkerValues / Math.max(summary.elapsedMs / 1000, 0.001);
      console.log(
        `demo-data: wrote ${plural(summary.organizations, 'organization')}, ${plural(summary.clinicians, 'clinician')}, ` +
          `${plural(summary.patients, 'patient')}, ${plural(summary.assessments, 'assessment')} and ` +
          `${plural(summary.biomarkerValues, 'biomarker value')} (${count(summary.totalRows)} rows in all) ` +
          `in ${seconds(summary.elapsedMs)}: ${count(rate)} biomarker rows/s (${dataset})`,
      );
    });
}
