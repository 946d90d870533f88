import type { EntityManager } from 'typeorm';
import type { RowAccess } from '../auth/access';
import { UUID } from '../db/context';
import { preparedQuery } from '../db/prepared';
import { accessPredicate } from './access';
import { ROW, type ResourceDefinition, type SortKey } from './definition';
import { InvalidSearch } from './errors';
import { filterPredicate, type Filter } from './parameters';
import { and, or, SqlParams } from './sql';

/** Every view row carries these besides what its mapping reads. */
export interface ViewRow {
  id: string;
  version_id: number;
  deleted_at: Date | string | null;
}

export type ReadResult<Row> = { row: Row; deleted: boolean } | null;

/**
 * One row by id, in one statement with the caller's reach in its WHERE clause: a row outside it is
 * indistinguishable from a row that does not exist.
 */
export async function readRow<Row extends ViewRow>(tx: EntityManager, def: ResourceDefinition<Row>, access: RowAccess, id: string): Promise<ReadResult<Row>> {
  if (!UUID.test(id)) return null;
  const params = new SqlParams();
  const where = and([`${ROW.id} = ${params.add(id)}::uuid`, accessPredicate(params, def, access)]);
  const rows = await preparedQuery<Row>(tx, `SELECT r.* FROM ${def.view} r WHERE ${where}`, params.values);
  return rows[0] ? { row: rows[0], deleted: rows[0].deleted_at !== null } : null;
}

/** Live rows by id (for _include), bounded by the caller's reach like any search. */
export async function rowsById<Row>(tx: EntityManager, def: ResourceDefinition<Row>, access: RowAccess, ids: readonly string[]): Promise<Row[]> {
  const usable = [...new Set(ids.filter((id) => UUID.test(id)))];
  if (usable.length === 0) return [];
  const params = new SqlParams();
  const where = and([`${ROW.id} = ANY(${params.add(usable)}::uuid[])`, `${ROW.deleted} IS NULL`, accessPredicate(params, def, access)]);
  return preparedQuery<Row>(tx, `SELECT r.* FROM ${def.view} r WHERE ${where} ORDER BY ${ROW.id}`, params.values);
}

/** Live rows matching a predicate built by the caller (for _revinclude), bounded by reach and a limit. */
export async function rowsWhere<Row>(tx: EntityManager, def: ResourceDefinition<Row>, access: RowAccess, predicate: (params: SqlParams) => string, limit: number): Promise<Row[]> {
  const params = new SqlParams();
  const where = and([predicate(params), `${ROW.deleted} IS NULL`, accessPredicate(params, def, access)]);
  return preparedQuery<Row>(tx, `SELECT r.* FROM ${def.view} r WHERE ${where} ORDER BY ${ROW.id} LIMIT ${params.add(limit)}`, params.values);
}

/** The sort keys of a search, flattened to columns, with the id as the final tie-breaker. */
export interface SortColumn {
  expr: string;
  sqlType: SortKey['columns'][number]['sqlType'] | 'uuid';
  descending: boolean;
}

export function sortColumns(def: ResourceDefinition, sort: readonly { key: string; descending: boolean }[]): SortColumn[] {
  const columns: SortColumn[] = [];
  for (const { key, descending } of sort) {
    for (const c of def.sorts[key].columns) columns.push({ expr: c.expr, sqlType: c.sqlType, descending });
  }
  columns.push({ expr: ROW.id, sqlType: 'uuid', descending: false });
  return columns;
}

/** The WHERE clause of a search without its page position: live rows, the caller's reach, the filters. */
export function searchWhere(params: SqlParams, def: ResourceDefinition, access: RowAccess, filters: readonly Filter[], base: string): string {
  const parts = [`${ROW.deleted} IS NULL`, accessPredicate(params, def, access)];
  for (const filter of filters) parts.push(filterPredicate(params, def.parameters[filter.name], filter, base));
  return and(parts);
}

/**
 * A page: one statement, the keyset position as a predicate (no OFFSET), one extra row to tell whether
 * another page follows. Sort values come back as text so a cursor keeps their full precision
 * (microseconds), and NULLs sort last in either direction.
 */
export async function searchPage<Row>(
  tx: EntityManager,
  def: ResourceDefinition<Row>,
  access: RowAccess,
  filters: readonly Filter[],
  columns: readonly SortColumn[],
  after: readonly unknown[] | null,
  count: number,
  base: string,
): Promise<{ rows: (Row & { sort__: (string | null)[] })[]; more: boolean }> {
  const params = new SqlParams();
  const parts = [searchWhere(params, def, access, filters, base)];
  if (after !== null) parts.push(keysetPredicate(params, columns, after));
  const select = columns.map((c, i) => `(${c.expr})::text AS s__${i}`).join(', ');
  const order = columns.map((c) => `${c.expr} ${c.descending ? 'DESC' : 'ASC'} NULLS LAST`).join(', ');
  const rows = await preparedQuery<Row & Record<string, string | null>>(
    tx,
    `SELECT r.*, ${select} FROM ${def.view} r WHERE ${and(parts)} ORDER BY ${order} LIMIT ${params.add(count + 1)}`,
    params.values,
  );
  const page = rows.slice(0, count).map((row) => Object.assign(row, { sort__: columns.map((_, i) => row[`s__${i}`]) }));
  return { rows: page, more: rows.length > count };
}

/** Rows strictly after `after` in the order of `columns` (NULLS LAST both ways). */
function keysetPredicate(params: SqlParams, columns: readonly SortColumn[], after: readonly unknown[]): string {
  const valid = after.length === columns.length && after.every((v) => v === null || typeof v === 'string');
  if (!valid || typeof after.at(-1) !== 'string' || !UUID.test(after.at(-1) as string)) {
    throw new InvalidSearch('_cursor is not valid for this search', '_cursor');
  }
  const value = (i: number) => `${params.add(after[i])}::${columns[i].sqlType}`;
  const equal = (i: number) => (after[i] === null ? `${columns[i].expr} IS NULL` : `${columns[i].expr} = ${value(i)}`);
  const beyond = (i: number) => {
    if (after[i] === null) return 'FALSE';
    const c = columns[i];
    const cmp = `${c.expr} ${c.descending ? '<' : '>'} ${value(i)}`;
    return c.sqlType === 'uuid' ? cmp : `(${cmp} OR ${c.expr} IS NULL)`;
  };
  return or(columns.map((_, i) => and([...columns.slice(0, i).map((__, j) => equal(j)), beyond(i)])));
}

/** _total=accurate: the same WHERE, counted. */
export async function countRows(tx: EntityManager, def: ResourceDefinition, access: RowAccess, filters: readonly Filter[], base: string): Promise<number> {
  const params = new SqlParams();
  const rows = await preparedQuery<{ total: number | string }>(tx, `SELECT count(*) AS total FROM ${def.view} r WHERE ${searchWhere(params, def, access, filters, base)}`, params.values);
  return Number(rows[0].total);
}

/** _total=estimate: the planner's row estimate for the same WHERE, without running it. */
export async function estimateRows(tx: EntityManager, def: ResourceDefinition, access: RowAccess, filters: readonly Filter[], base: string): Promise<number> {
  const params = new SqlParams();
  const rows = await tx.query(`EXPLAIN (FORMAT JSON) SELECT 1 FROM ${def.view} r WHERE ${searchWhere(params, def, access, filters, base)}`, params.values);
  const plan = rows[0]['QUERY PLAN'];
  const parsed = typeof plan === 'string' ? JSON.parse(plan) : plan;
  return Math.round(Number(parsed[0].Plan['Plan Rows']));
}
