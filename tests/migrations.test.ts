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
