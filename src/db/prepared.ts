import crypto from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';

interface NamedQueryClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

const names = new Map<string, string>();

/**
 * Named statements live as long as their connection. Only small, common shapes are named (a search
 * with hundreds of alternatives is not), and at most MAX_PER_CONNECTION per connection: beyond that a
 * statement runs unnamed, so no client can make a session hold an unbounded number of plans.
 */
const MAX_VALUES_NAMED = 32;
const MAX_PER_CONNECTION = 200;
const preparedOn = new WeakMap<object, Set<string>>();

/**
 * DataSources whose pooled connections are separate Postgres sessions (a server, Neon). Embedded PGlite
 * serves every connection from ONE session, where a name prepared by one connection already exists
 * for the next: there statements stay unnamed.
 */
const separateSessions = new WeakSet<DataSource>();

export function allowNamedStatements(dataSource: DataSource): void {
  separateSessions.add(dataSource);
}

function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `ml_${crypto.createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    if (names.size < 10_000) names.set(text, name);
  }
  return name;
}

/**
 * Runs a statement as a named prepared statement on the transaction's connection. Reads are dominated
 * by Postgres parsing and planning the statement with its row-level security policies; a named
 * statement is parsed once per connection, and after a few executions Postgres may reuse a generic
 * plan. Statement texts are built from the search's shape, never from its values, so their number
 * stays small. An ordinary query where sessions are shared or the driver has no named statements.
 */
export async function preparedQuery<Row>(tx: EntityManager, text: string, values: readonly unknown[]): Promise<Row[]> {
  const client = (tx.queryRunner as unknown as { databaseConnection?: NamedQueryClient } | undefined)?.databaseConnection;
  if (!separateSessions.has(tx.connection) || !client || typeof client.query !== 'function') return tx.query(text, values as unknown[]);
  if (values.length > MAX_VALUES_NAMED) return tx.query(text, values as unknown[]);
  const name = statementName(text);
  let prepared = preparedOn.get(client);
  if (!prepared) preparedOn.set(client, (prepared = new Set()));
  if (!prepared.has(name)) {
    if (prepared.size >= MAX_PER_CONNECTION) return tx.query(text, values as unknown[]);
    prepared.add(name);
  }
  const result = await client.query({ name, text, values: values as unknown[] });
  return result.rows as Row[];
}
