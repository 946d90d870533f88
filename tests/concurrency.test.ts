import { withDbContext } from '../src/db/context';
import { openTestDatabase, testBackend, type TestDatabase } from './support/database';

/**
 * The embedded backend's known trap: with one PGlite session shared by the pool, overlapping
 * transactions interleave and one's ROLLBACK erases another's committed rows. Served through
 * pglite-socket, each pooled connection is its own session. This proves it on every backend.
 */
describe(`concurrent transactions (${testBackend()})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase({ poolSize: 10 });
  });
  afterAll(() => db.close());

  it('keeps each autocommit query whole: 400 concurrent queries of different shapes, beside transactions, each get their own answer', async () => {
    // pglite-socket used to interleave the messages of two connections' queries (Parse, Bind ...): one's
    // Bind met the other's statement, or read its rows. Parameter counts differ so a mix-up cannot pass.
    const shapes = [
      (i: number) => db.dataSource.query(`SELECT $1::int AS a`, [i]).then((r: { a: number }[]) => [r[0].a]),
      (i: number) => db.dataSource.query(`SELECT $1::int AS a, $2::int AS b, $3::int AS c`, [i, i + 1, i + 2]).then((r: { a: number; b: number; c: number }[]) => [r[0].a, r[0].b, r[0].c]),
      (i: number) => withDbContext(db.dataSource, { role: 'system' }, async (tx) => (await tx.query(`SELECT $1::int + 0 AS a, $2::text AS t`, [i, `t${i}`])).map((r: { a: number }) => r.a)),
      // A simple-protocol query (no parameters; withDbContext's BEGIN batch is one too) discards the unnamed
      // statement another connection has parsed but not yet bound.
      (i: number) => db.dataSource.query(`SELECT ${i} AS a`).then((r: { a: number }[]) => [r[0].a]),
    ];
    const results = await Promise.all(Array.from({ length: 400 }, (_, i) => shapes[i % 4](i).then((values) => ({ i, values }))));
    for (const { i, values } of results) expect(values).toEqual(i % 4 === 1 ? [i, i + 1, i + 2] : [i]);
  });

  it('20 overlapping transactions, half rolled back, leave exactly the committed rows', async () => {
    const marker = `concurrency-${Date.now()}`;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        db.dataSource.transaction(async (tx) => {
          await tx.query(`INSERT INTO organizations (name, type) VALUES ($1, 'clinic')`, [`${marker}-${i}-a`]);
          // Stagger so that commits and rollbacks of different transactions interleave.
          await new Promise((r) => setTimeout(r, (i * 7) % 23));
          await tx.query(`INSERT INTO organizations (name, type) VALUES ($1, 'clinic')`, [`${marker}-${i}-b`]);
          if (i % 2 === 1) throw new Error(`roll back ${i}`);
        }),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(10);
    const rows: { name: string }[] = await db.dataSource.query(
      `SELECT name FROM organizations WHERE name LIKE $1 ORDER BY name`,
      [`${marker}-%`],
    );
    const expected = Array.from({ length: 20 }, (_, i) => i)
      .filter((i) => i % 2 === 0)
      .flatMap((i) => [`${marker}-${i}-a`, `${marker}-${i}-b`])
      .sort();
    expect(rows.map((r) => r.name)).toEqual(expected);
  });

  it('a transaction does not see another one\'s uncommitted rows', async () => {
    const name = `isolation-${Date.now()}`;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const didInsert = new Promise<void>((r) => (inserted = r));
    const writer = db.dataSource.transaction(async (tx) => {
      await tx.query(`INSERT INTO organizations (name, type) VALUES ($1, 'clinic')`, [name]);
      inserted();
      await held;
      throw new Error('roll back');
    });
    await didInsert;
    // On the embedded backend the reader queues behind the writer's transaction; either way it must not see the row.
    const reader = db.dataSource.query(`SELECT count(*)::int AS n FROM organizations WHERE name = $1`, [name]);
    setTimeout(release, 50);
    await expect(writer).rejects.toThrow('roll back');
    expect((await reader)[0].n).toBe(0);
  });
});
