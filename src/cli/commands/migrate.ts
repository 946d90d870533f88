import { Command } from 'commander';
import type { DataSource } from 'typeorm';
import { migrate } from '../../db/migrate';
import { withDatabase } from '../database';
import { plural, seconds } from '../format';
import { progressEnabled, startProgress } from '../progress';

export function migrateCommand(): Command {
  return new Command('migrate').description('apply the pending schema migrations').action(async () => {
    const started = Date.now();
    const { applied, known } = await withDatabase(async ({ dataSource }) => {
      const stopWatching = progressEnabled() ? watchMigrations(dataSource) : async () => undefined;
      try {
        return { applied: await migrate(dataSource), known: dataSource.migrations.length };
      } finally {
        await stopWatching();
      }
    });
    console.log(
      applied.length === 0
        ? `migrate: schema is current (${plural(known, 'migration')} already applied), nothing to do`
        : `migrate: applied ${plural(applied.length, 'migration')} in ${seconds(Date.now() - started)}: ${applied.join(', ')}`,
    );
  });
}

/**
 * migrate() runs TypeORM's migrations in one call; its progress shows in typeorm_migrations, where each
 * migration commits its row. Polls that table on another connection to move the bar.
 */
function watchMigrations(dataSource: DataSource): () => Promise<void> {
  const progress = startProgress('migrate', 'migrations');
  let polling: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    polling = dataSource
      .query(`SELECT count(*)::int AS n FROM typeorm_migrations`)
      .then((rows: { n: number }[]) => progress.update(rows[0].n, dataSource.migrations.length))
      .catch(() => undefined); // no table yet on a fresh database
  }, 250);
  return async () => {
    clearInterval(timer);
    await polling;
    progress.stop();
  };
}
