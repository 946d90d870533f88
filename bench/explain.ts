import type { Pool, PoolClient } from 'pg';
// pg's own conversion of a bound value to its text form (arrays to array literals, dates to ISO strings).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareValue } = require('pg/lib/utils') as { prepareValue: (v: unknown) => string | Buffer | null };
import type { TracedStatement } from './gateway';

/** A statement the gateway sent during a scenario, and what Postgres does with it. */
export interface StatementProfile {
  sql: string;
  /** Times sent per HTTP request of the scenario. */
  perRequest: number;
  /** Mean time from sending it to its result arriving in the gateway (includes waiting for the event loop). */
  roundTripMs: number;
  /**
   * EXPLAIN ANALYZE of the statement prepared as the gateway prepares it, executed several times with the
   * parameters and row-level-security context of its first run: the median of the last runs, by which
   * time Postgres has settled on a generic plan (planning ~0) or kept planning each execution.
   */
  planningMs?: number;
  executionMs?: number;
  /** Planning time of the first, unprepared-like execution (what a statement that is not prepared pays each time). */
  firstPlanningMs?: number;
  /** The same with plan_cache_mode = force_generic_plan: what a generic plan would cost instead. */
  generic?: { planningMs: number; executionMs: number };
  /** Plan nodes, depth first: "Index Scan using idx on table (rows=n)". */
  plan?: string[];
  error?: string;
}

const CONTROL = /^(START TRANSACTION|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)/i;
const CONTEXT = /^SELECT set_config\('role'/;
/** Postgres switches a prepared statement to a generic plan (if it is not costlier) after five custom ones. */
const RUNS = 9;
const SETTLED = 3;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Alias?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Subplan Name'?: string;
  Plans?: PlanNode[];
}

function flatten(node: PlanNode, out: string[] = []): string[] {
  const what = [
    node['Subplan Name'] ? `[${node['Subplan Name']}] ` : '',
    node['Node Type'],
    node['Index Name'] ? ` using ${node['Index Name']}` : '',
    node['Relation Name'] ? ` on ${node['Relation Name']}${node.Alias && node.Alias !== node['Relation Name'] ? ` ${node.Alias}` : ''}` : '',
    node['Actual Rows'] !== undefined ? ` (rows=${node['Actual Rows']}${(node['Actual Loops'] ?? 1) > 1 ? ` loops=${node['Actual Loops']}` : ''})` : '',
  ].join('');
  out.push(what);
  for (const child of node.Plans ?? []) flatten(child, out);
  return out;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function literal(client: PoolClient, value: unknown): string {
  const text = prepareValue(value);
  if (text === null) return 'NULL';
  return client.escapeLiteral(Buffer.isBuffer(text) ? text.toString('utf8') : text);
}

/**
 * Replays each SELECT the gateway sent under EXPLAIN ANALYZE, as the gateway ran it: in a transaction
 * with the same SET LOCAL ROLE and identity settings (the parameters of its set_config statement), as a
 * prepared statement (the gateway names its statements), executed a few times, then rolled back.
 */
export async function explainStatements(pool: Pool, statements: TracedStatement[], requests: number): Promise<StatementProfile[]> {
  const context = statements.find((s) => CONTEXT.test(s.sql));
  const out: StatementProfile[] = [];
  const client = await pool.connect();
  try {
    for (const st of statements.sort((a, b) => b.count - a.count)) {
      const profile: StatementProfile = { sql: st.sql, perRequest: requests > 0 ? st.count / requests : 0, roundTripMs: st.totalMs / st.count };
      out.push(profile);
      if (CONTROL.test(st.sql) || CONTEXT.test(st.sql) || !/^(SELECT|WITH)\b/i.test(st.sql)) continue;
      const planning: number[] = [];
      const execution: number[] = [];
      try {
        await client.query('BEGIN');
        try {
          if (context) await client.query(context.sql, context.params);
          await client.query(`PREPARE bench_explain AS ${st.sql}`);
          const args = st.params.length > 0 ? `(${st.params.map((v) => literal(client, v)).join(', ')})` : '';
          for (let i = 0; i < RUNS; i++) {
            const res = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Planning Time': number; 'Execution Time': number }] }>(
              `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE bench_explain${args}`,
            );
            const [explained] = res.rows[0]['QUERY PLAN'];
            planning.push(explained['Planning Time']);
            execution.push(explained['Execution Time']);
            if (i === RUNS - 1) profile.plan = flatten(explained.Plan);
          }
          // Still planning at every execution (a custom plan each time): would the generic plan do?
          if (median(planning.slice(-SETTLED)) > 0.1) {
            await client.query(`SET LOCAL plan_cache_mode = force_generic_plan`);
            const gp: number[] = [];
            const ge: number[] = [];
            for (let i = 0; i < SETTLED + 1; i++) {
              const res = await client.query<{ 'QUERY PLAN': [{ 'Planning Time': number; 'Execution Time': number }] }>(
                `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE bench_explain${args}`,
              );
              gp.push(res.rows[0]['QUERY PLAN'][0]['Planning Time']);
              ge.push(res.rows[0]['QUERY PLAN'][0]['Execution Time']);
            }
            profile.generic = { planningMs: median(gp.slice(1)), executionMs: median(ge.slice(1)) };
          }
        } finally {
          await client.query('ROLLBACK');
          await client.query('DEALLOCATE bench_explain').catch(() => undefined);
        }
        profile.firstPlanningMs = planning[0];
        profile.planningMs = median(planning.slice(-SETTLED));
        profile.executionMs = median(execution.slice(-SETTLED));
      } catch (err) {
        profile.error = (err as Error).message;
      }
    }
  } finally {
    client.release();
  }
  return out;
}
