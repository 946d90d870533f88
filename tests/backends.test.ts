import { openTestDatabase, testBackend, type TestDatabase } from './support/database';

describe(`backend under test (${testBackend()})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(() => db.close());

  it('is the one the environment asked for, through its own driver', async () => {
    expect(db.backend).toBe(testBackend());
    const driverModule = (db.dataSource.driver as unknown as { postgres: { neonConfig?: unknown } }).postgres;
    expect('neonConfig' in driverModule).toBe(testBackend() === 'neon');
    const [{ version }] = await db.dataSource.query('SELECT version()');
    expect(/PGlite/.test(version)).toBe(testBackend() === 'embedded');
  });
});
