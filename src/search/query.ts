import type { EntityManager } from 'typeorm';
import type { RowAccess } from '../auth/access';
import { accessPredicate } from './access';
import type { ResourceDefinition } from './definition';
import { UUID } from '../db/context';
import { and, or, SqlParams } from './sql';
import { parseToken } from './token';

export type ReadResult<Row> = { row: Row; deleted: boolean } | null;

/**
 * One row by id, in one statement with the caller's reach in its WHERE clause: a row outside it is
 * indistinguishable from a row that does not exist.
 */
export async function readRow<Row>(tx: EntityManager, def: ResourceDefinition<Row>, access: RowAccess, id: string): Promise<ReadResult<Row>> {
  if (!UUID.test(id)) return null;
  const params = new SqlParams();
  const where = and([`${def.idColumn} = ${params.add(id)}`, def.where ?? 'TRUE', accessPredicate(params, def, access)]);
  const rows: (Row & { deleted__: boolean })[] = await tx.query(
    `SELECT ${def.select}, ${def.deletedColumn} IS NOT NULL AS deleted__ FROM ${def.from} WHERE ${where}`,
    params.values,
  );
  return rows[0] ? { row: rows[0], deleted: rows[0].deleted__ } : null;
}

/** Parsed search criteria: each entry ANDs; its values OR (comma-separated in the request). */
export interface SearchCriteria {
  readonly filters: readonly { name: string; values: readonly string[] }[];
  readonly count: number;
  /** The id of the last row of the previous page. */
  readonly after: string | null;
}

/** A page of live rows in id order (the keyset), one statement; one extra row says whether more follow. */
export async function searchRows<Row>(
  tx: EntityManager,
  def: ResourceDefinition<Row>,
  access: RowAccess,
  criteria: SearchCriteria,
): Promise<{ rows: Row[]; more: boolean }> {
  const params = new SqlParams();
  const parts = [def.where ?? 'TRUE', `${def.deletedColumn} IS NULL`, accessPredicate(params, def, access)];
  for (const filter of criteria.filters) {
    const parameter = def.parameters[filter.name];
    parts.push(
      or(
        filter.values.map((value) => {
          const token = parseToken(value);
          return token ? parameter.where(params, token) : 'FALSE';
        }),
      ),
    );
  }
  if (criteria.after !== null) parts.push(`${def.idColumn} > ${params.add(criteria.after)}`);
  const rows: Row[] = await tx.query(
    `SELECT ${def.select} FROM ${def.from} WHERE ${and(parts)} ORDER BY ${def.idColumn} LIMIT ${params.add(criteria.count + 1)}`,
    params.values,
  );
  return { rows: rows.slice(0, criteria.count), more: rows.length > criteria.count };
}
