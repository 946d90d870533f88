import { migrate, migrationsCurrent } from '../src/db/migrate';
import { migrations } from '../migrations';
import { openTestDatabase, type TestDatabase } from './support/database';

describe('migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(() => db.close());

  it('leave the prepared database current, and a second run applies nothing', async () => {
    expect(await migrationsCurrent(db.dataSource)).toBe(true);
    expect(await migrate(db.dataSource)).toEqual([]);
    const rows: { name: string }[] = await db.dataSource.query('SELECT name FROM typeorm_migrations ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(migrations.map((m) => new m().name));
  });
});

describe('migrations down and up again', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(() => db.close());

  it('revert completely and re-apply cleanly', async () => {
    for (let i = 0; i < migrations.length; i++) await db.dataSource.undoLastMigration({ transaction: 'each' });
    const [{ n }] = await db.dataSource.query(
      `SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname <> 'typeorm_migrations'
         AND relkind IN ('r', 'p', 'm', 'v')`,
    );
    expect(n).toBe(0);
    expect(await migrate(db.dataSource)).toEqual(migrations.map((m) => new m().name));
    expect(await migrationsCurrent(db.dataSource)).toBe(true);
  });
});
