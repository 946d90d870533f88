import { getMetadataArgsStorage, type EntityMetadata, type QueryRunner } from 'typeorm';
import { openTestDatabase, type TestDatabase } from './support/database';

/**
 * The migrations are the schema; the entities describe it. If they disagree, TypeORM would read and write
 * columns that are not there (or not what it thinks), so every difference fails here.
 *
 * TypeORM's schema builder compares tables, columns (type, length, precision/scale, nullability, default,
 * uniqueness, generation), primary keys, foreign keys (name, onDelete) and the NAMES and columns of indexes,
 * composite uniques and checks. What it does not compare (index WHERE clauses, check expressions, names of
 * single-column uniques, tables without an entity) is checked below it, with Postgres itself normalizing
 * the entity's text so the comparison is exact rather than textual.
 *
 * Not comparable at all, and therefore documented in the entities instead: index key order/DESC, NULLS NOT
 * DISTINCT (user_roles, daily_metrics; exercised in constraints.test.ts), the expression index
 * idx_assessments_cohort_analysis (declared with synchronize: false), partitioning of access_logs, triggers,
 * policies and the cohort_analysis_summary materialized view.
 */
describe('schema drift between entities and migrations', () => {
  let db: TestDatabase;
  const metadatas = (): EntityMetadata[] =>
    [...db.dataSource.entityMetadatas].sort((a, b) => a.tableName.localeCompare(b.tableName));

  /**
   * Runs `check` on one connection inside a transaction that is rolled back, with an empty scratch copy
   * drift_<table> of every table to declare the entities' indexes and checks on.
   */
  async function withScratchTables(check: (qr: QueryRunner) => Promise<void>): Promise<void> {
    const qr = db.dataSource.createQueryRunner();
    await qr.connect();
    await qr.startTransaction();
    try {
      for (const meta of metadatas()) await qr.query(`CREATE TEMP TABLE "drift_${meta.tableName}" (LIKE "${meta.tableName}")`);
      await check(qr);
    } finally {
      await qr.rollbackTransaction();
      await qr.release();
    }
  }

  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(() => db.close());

  it('leaves TypeORM schema synchronization nothing to do', async () => {
    const sql = await db.dataSource.driver.createSchemaBuilder().log();
    expect(sql.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('has exactly one entity per table', async () => {
    const rows: { name: string }[] = await db.dataSource.query(
      `SELECT c.relname AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND c.relname <> $1
        ORDER BY 1`,
      [db.dataSource.options.migrationsTableName],
    );
    expect(rows.map((r) => r.name)).toEqual(metadatas().map((m) => m.tableName));
  });

  it('declares the WHERE clause of every partial index', () =>
    withScratchTables(async (qr) => {
      const expected: Record<string, string | null> = {};
      const actual: Record<string, string | null> = {};
      for (const meta of metadatas()) {
        const indexes = meta.indices.filter((index) => index.synchronize);
        for (const index of indexes) {
          const columns = index.columns.map((c) => `"${c.databaseName}"`).join(', ');
          await qr.query(
            `CREATE INDEX "${index.name}" ON "drift_${meta.tableName}" (${columns})${index.where ? ` WHERE ${index.where}` : ''}`,
          );
        }
        const names = new Set(indexes.map((index) => index.name));
        for (const [table, into] of [
          [`drift_${meta.tableName}`, expected],
          [meta.tableName, actual],
        ] as const) {
          for (const row of await predicates(qr, table)) if (names.has(row.name)) into[row.name] = row.predicate;
        }
      }
      expect(Object.keys(actual).length).toBeGreaterThan(40);
      expect(actual).toEqual(expected);
    }));

  it('declares every CHECK constraint with its expression', () =>
    withScratchTables(async (qr) => {
      const expected: Record<string, string> = {};
      const actual: Record<string, string> = {};
      for (const meta of metadatas()) {
        for (const check of meta.checks) {
          await qr.query(`ALTER TABLE "drift_${meta.tableName}" ADD CONSTRAINT "${check.name}" CHECK (${check.expression})`);
        }
        for (const row of await checks(qr, `drift_${meta.tableName}`)) expected[`${meta.tableName}.${row.name}`] = row.definition;
        for (const row of await checks(qr, meta.tableName)) actual[`${meta.tableName}.${row.name}`] = row.definition;
      }
      expect(Object.keys(actual)).toHaveLength(11);
      expect(actual).toEqual(expected);
    }));

  it('declares every UNIQUE constraint, under its Postgres name where the entity names it', async () => {
    const actual: string[] = [];
    const expected: string[] = [];
    const actualByName: Record<string, string> = {};
    const declaredByName: Record<string, string> = {};
    const key = (table: string, columns: string[]) => `${table}(${[...columns].sort().join(', ')})`;
    for (const meta of metadatas()) {
      const rows: { name: string; columns: string[] }[] = await db.dataSource.query(
        `SELECT con.conname AS name,
                array(SELECT a.attname::text FROM pg_attribute a
                       WHERE a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey)) AS columns
           FROM pg_constraint con
          WHERE con.conrelid = $1::regclass AND con.contype = 'u'`,
        [meta.tableName],
      );
      for (const row of rows) {
        actual.push(key(meta.tableName, row.columns));
        actualByName[row.name] = key(meta.tableName, row.columns);
      }
      // A one-to-one join column brings its own unique (named REL_... by TypeORM): count each column set once.
      const columnSets = new Set(meta.uniques.map((u) => key(meta.tableName, u.columns.map((c) => c.databaseName))));
      expected.push(...columnSets);
      for (const declared of getMetadataArgsStorage().filterUniques(meta.target)) {
        const unique = meta.uniques.find((u) => u.name === declared.name)!;
        declaredByName[unique.name] = key(meta.tableName, unique.columns.map((c) => c.databaseName));
      }
    }
    expect(actual.sort()).toEqual(expected.sort());
    expect(Object.keys(declaredByName).length).toBeGreaterThan(5);
    const actualDeclared = Object.fromEntries(Object.keys(declaredByName).map((name) => [name, actualByName[name]]));
    expect(actualDeclared).toEqual(declaredByName);
  });

  async function predicates(qr: QueryRunner, table: string): Promise<{ name: string; predicate: string | null }[]> {
    return qr.query(
      `SELECT i.relname AS name, pg_get_expr(x.indpred, x.indrelid) AS predicate
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = $1::regclass`,
      [table],
    );
  }

  async function checks(qr: QueryRunner, table: string): Promise<{ name: string; definition: string }[]> {
    return qr.query(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS definition
         FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'`,
      [table],
    );
  }
});
