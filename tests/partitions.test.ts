import { withDbContext } from '../src/db/context';
import { openTestDatabase, testBackend, type TestDatabase } from './support/database';

/** access_logs is partitioned by month; no insert may fail for lack of a partition. */
describe(`access_logs partitions (${testBackend()})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(() => db.close());

  const partitionOf = async (endpoint: string): Promise<string[]> =>
    (await db.dataSource.query(`SELECT tableoid::regclass::text AS part FROM access_logs WHERE endpoint = $1 ORDER BY created_at`, [endpoint])).map(
      (r: { part: string }) => r.part,
    );
  const insertAt = (endpoint: string, at: string) =>
    db.dataSource.query(`INSERT INTO access_logs (endpoint, method, status_code, created_at) VALUES ($1, 'GET', 200, $2)`, [endpoint, at]);

  it('routes a row to its month\'s partition, created by the migration for this month', async () => {
    await insertAt('/now', new Date().toISOString());
    const month = new Date().toISOString().slice(0, 7).replace('-', '_');
    expect(await partitionOf('/now')).toEqual([`access_logs_${month}`]);
  });

  it('catches a month without a partition in the default partition, and moves it when the partition is created', async () => {
    await insertAt('/future', '2031-05-10T12:00:00Z');
    await insertAt('/future', '2031-05-31T23:59:59.999Z');
    await insertAt('/future', '2031-06-01T00:00:00Z');
    expect(await partitionOf('/future')).toEqual(['access_logs_default', 'access_logs_default', 'access_logs_default']);

    const [{ created }] = await db.dataSource.query(`SELECT ensure_access_log_partitions('2031-05-01', 1) AS created`);
    expect(created).toBe(1);
    expect(await partitionOf('/future')).toEqual(['access_logs_2031_05', 'access_logs_2031_05', 'access_logs_default']);

    // Idempotent: existing partitions are left alone.
    const [{ again }] = await db.dataSource.query(`SELECT ensure_access_log_partitions('2031-05-01', 2) AS again`);
    expect(again).toBe(1);
    expect(await partitionOf('/future')).toEqual(['access_logs_2031_05', 'access_logs_2031_05', 'access_logs_2031_06']);
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM access_logs WHERE endpoint = '/future'`);
    expect(n).toBe(3);
  });

  it('lets the application role append but not read or change access logs', async () => {
    const identity = { role: 'system' as const, allOrganizations: true };
    await withDbContext(db.dataSource, identity, (tx) =>
      tx.query(`INSERT INTO access_logs (endpoint, method, status_code, response_time_ms) VALUES ('/app', 'GET', 200, 3)`),
    );
    expect(await partitionOf('/app')).toHaveLength(1);
    for (const sql of [`SELECT * FROM access_logs`, `DELETE FROM access_logs`, `UPDATE access_logs SET status_code = 500`]) {
      await expect(withDbContext(db.dataSource, identity, (tx) => tx.query(sql))).rejects.toMatchObject({
        driverError: expect.objectContaining({ code: '42501' }),
      });
    }
  });

  it('refuses a nonsensical number of months', async () => {
    await expect(db.dataSource.query(`SELECT ensure_access_log_partitions(current_date, 0)`)).rejects.toThrow(/months must be between/);
  });
});
