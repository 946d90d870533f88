import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { withMaintenanceContext } from '../db/context';
import type { PhiKeyRing } from '../phi/keyring';
import { generateDemoData } from './generator';

/** What `npm start` creates on an empty database: one clinic to call the API against. */
export const DEMO = { patients: 25, clinicians: 3, organizations: 1, assessmentsPerPatient: 6, seed: 2026 } as const;

/**
 * On the first start against an empty database (no organization at all), create the demo organization
 * (generateDemoData seeds the reference data it needs first). Any later start finds the organization and leaves the data alone.
 */
export async function bootstrapDemo(ds: DataSource, logger: Logger, phiKeys: PhiKeyRing): Promise<{ description: string } | null> {
  const [{ organizations }] = await withMaintenanceContext(ds, (tx) =>
    tx.query(`SELECT count(*)::int AS organizations FROM organizations`),
  );
  if (organizations > 0) return null;
  const summary = await generateDemoData(ds, {
    patients: DEMO.patients,
    clinicians: DEMO.clinicians,
    organizations: DEMO.organizations,
    assessmentsPerPatient: DEMO.assessmentsPerPatient,
    seed: DEMO.seed,
    phiKeys,
  });
  logger.info({ demo: summary }, 'created demo data');
  return {
    description:
      `${summary.patients} patients, ${summary.clinicians} clinicians, ${summary.assessments} assessments, ` +
      `${summary.biomarkerValues} biomarker values in organization ${summary.organizationIds[0]}`,
  };
}
