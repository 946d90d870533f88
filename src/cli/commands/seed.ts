import { Command } from 'commander';
import { REFERENCE_MODELS, REFERENCE_ROLES, seedReferenceData } from '../../db/seed';
import { withDatabase } from '../database';
import { plural } from '../format';

export function seedCommand(): Command {
  return new Command('seed')
    .description('insert the reference roles and the model registry (idempotent: only what is missing is inserted)')
    .action(async () => {
      const inserted = await withDatabase(({ dataSource }) => seedReferenceData(dataSource));
      const known = `${plural(REFERENCE_ROLES.length, 'role')}, ${plural(REFERENCE_MODELS.length, 'model')}`;
      console.log(
        inserted.roles + inserted.models === 0
          ? `seed: reference data already present (${known}), nothing changed`
          : `seed: inserted ${plural(inserted.roles, 'role')} and ${plural(inserted.models, 'model')} (of ${known})`,
      );
    });
}
