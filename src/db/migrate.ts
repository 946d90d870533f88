import type { DataSource } from 'typeorm';

// Any constant will do; it only has to be the same for every gateway process and CLI run.
const MIGRATION_LOCK = 7_316_001;

/**
 * Runs pending migrations, each in its own transaction. An advisory lock makes concurrent starters
 * (several gateway processes, a CLI run) take turns instead of racing to create the same tables.
 */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await lock.release();
  }
}

/** True when every migration this code knows has been applied. */
export async function migrationsCurrent(dataSource: DataSource): Promise<boolean> {
  return !(await dataSource.showMigrations());
}
