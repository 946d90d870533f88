/**
 * npm run bench:writes -- the write side: the gateway in this process on DATABASE_URL (a Postgres
 * server), driven over HTTP by autocannon in a worker thread, one scenario at a time:
 *   patient-create      POST Patient with If-None-Exist, a new MRN each time (a registration)
 *   patient-replay      the same, MRNs already registered (a replayed message: the match, nothing written)
 *   result-transaction  a cardiology report with 10 Observations as a transaction Bundle, its subject
 *                       Patient?identifier=MRN (one assessment, 10 biomarkers, modality row, versions)
 *   result-native       the same result as a POST /medilens/assessments document
 * Every request is checked (status and resourceType); the report gives req/s, latency percentiles and
 * CPU per request, and the rows each scenario wrote. The database is migrated and gets its own
 * organization; nothing else in it is touched.
 */
import os from 'node:os';
import { Command, Option } from 'commander';
import { writeOrganization, WRITE_SCOPE } from './common';
import { measureCpu } from './cpu';
import { startGateway } from './gateway';
import { LoadGenerator } from './http-load';
import { summarize } from './stats';
import { MRN_SYSTEM, registration, writeRequest, type WriteTemplate } from './write-requests';

interface Options {
  duration: number;
  connections: number;
  registered: number;
  only?: string[];
  statements: boolean;
}

const SCENARIOS: { name: WriteTemplate['kind']; expect: string; what: string }[] = [
  { name: 'patient-create', expect: '', what: 'POST Patient, If-None-Exist on a new MRN (201, Prefer: return=minimal)' },
  { name: 'patient-replay', expect: '', what: 'POST Patient, If-None-Exist on a registered MRN (200, nothing written)' },
  { name: 'result-transaction', expect: 'Bundle', what: 'POST transaction: DiagnosticReport + 10 Observations, subject Patient?identifier=' },
  { name: 'result-native', expect: '', what: 'POST /medilens/assessments: the same result as a native document' },
];

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const cmd = new Command('bench:writes')
    .option('--duration <s>', 'seconds per scenario', (v) => Number(v), 15)
    .option('--connections <n>', 'concurrent HTTP connections', (v) => Number(v), 16)
    .option('--registered <n>', 'patients registered before the run (replays and results use them)', (v) => Number(v), 1000)
    .addOption(new Option('--only <names...>', 'scenarios to run').choices(SCENARIOS.map((s) => s.name)))
    .option('--statements', 'after each scenario, the statements that took the most database time', false)
    .exitOverride();
  cmd.parse(argv, { from: 'user' });
  const opts = cmd.opts<Options>();
  const url = process.env.DATABASE_URL;
  if (!url) {
    process.stderr.write('bench:writes: set DATABASE_URL=postgres://... (a server database; it is migrated)\n');
    return 2;
  }

  const organization = await writeOrganization(url, 'bench writes');
  const gw = await startGateway({ databaseUrl: url, logLevel: 'warn', scope: WRITE_SCOPE, organizationId: organization });
  const generator = new LoadGenerator();
  try {
    const token = await gw.token();
    // The registered patients, through the gateway itself (so they are what a hospital would have pushed).
    const mrns = Array.from({ length: opts.registered }, (_, i) => `REG-${organization.slice(0, 8)}-${i}`);
    for (let i = 0; i < mrns.length; i += 50) {
      await Promise.all(
        mrns.slice(i, i + 50).map(async (mrn) => {
          const res = await fetch(`${gw.base}/fhir/Patient`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
            body: JSON.stringify(registration(mrn)),
          });
          if (res.status !== 201) throw new Error(`registering ${mrn}: HTTP ${res.status} ${await res.text()}`);
        }),
      );
    }
    // And results already filed under them: the result scenarios measure a database that has some, not
    // the first seconds of an empty biomarker table whose statistics still say it is empty.
    for (let i = 0; i < mrns.length; i += 50) {
      await Promise.all(
        mrns.slice(i, i + 50).map(async (mrn) => {
          const { path, headers, body } = writeRequest({ kind: 'result-native', mrns: [mrn] });
          const res = await fetch(`${gw.base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...headers }, body });
          if (res.status !== 201) throw new Error(`a result for ${mrn}: HTTP ${res.status} ${await res.text()}`);
        }),
      );
    }
    // As autovacuum would soon: without statistics the planner takes a fresh table for empty.
    await gw.db.dataSource.query('ANALYZE');
    say(`gateway on ${gw.base}; organization ${organization} with ${mrns.length} registered patients (MRN system ${MRN_SYSTEM}), one cardiology result each`);
    say(`| scenario | request | req/s | p50 ms | p95 ms | p99 ms | gateway CPU ms/request | rows written |`);
    say(`|---|---|---|---|---|---|---|---|`);
    for (const scenario of SCENARIOS.filter((s) => !opts.only || opts.only.includes(s.name))) {
      const fresh = await gw.token();
      // Each scenario writes thousands of rows: fresh statistics for the next, as autovacuum keeps them.
      await gw.db.dataSource.query('ANALYZE');
      const before = await rowCounts(gw.db.dataSource);
      gw.resetTrace();
      const { result, cpu } = await measureCpu(os.cpus().length, new URL(url).pathname.slice(1), () =>
        generator.run({
          kind: 'autocannon',
          base: gw.base,
          token: fresh,
          paths: ['/'],
          connections: opts.connections,
          durationS: opts.duration,
          expect: scenario.expect,
          write: { kind: scenario.name, mrns },
        }),
      );
      const after = await rowCounts(gw.db.dataSource);
      const f = result.failures;
      const latency = summarize(result.latencies);
      const requests = result.latencies.length;
      const written = Object.entries(after)
        .map(([table, n]) => [table, n - before[table]] as const)
        .filter(([, n]) => n > 0)
        .map(([table, n]) => `${table} +${n}`)
        .join(', ');
      say(
        `| ${scenario.name} | ${scenario.what} | ${(requests / result.elapsedS).toFixed(0)} | ${latency.p50.toFixed(1)} | ${latency.p95.toFixed(1)} | ` +
          `${latency.p99.toFixed(1)} | ${((cpu.mainThread * result.elapsedS * 1000) / Math.max(1, requests)).toFixed(2)} | ${written || 'none'} |`,
      );
      if (opts.statements) {
        for (const st of gw.statements().sort((a, b) => b.totalMs - a.totalMs).slice(0, 6)) {
          say(`  ${(st.count / Math.max(1, requests)).toFixed(1)}/request, ${(st.totalMs / st.count).toFixed(2)} ms each: ${st.sql.slice(0, 160)}`);
        }
      }
      if (f.non2xx + f.mismatches + f.errors > 0) {
        say(`  FAILED: ${f.non2xx} non-2xx, ${f.mismatches} not the expected answer, ${f.errors} socket errors; ${JSON.stringify(f.statuses)}`);
        for (const sample of f.samples) say(`  ${sample}`);
      }
    }
    return 0;
  } finally {
    await generator.close();
    await gw.stop();
  }
}

async function rowCounts(ds: import('typeorm').DataSource): Promise<Record<string, number>> {
  const tables = ['users', 'patient_identifiers', 'assessments', 'biomarker_values', 'cardiology_results', 'resource_history'];
  const [row] = await ds.query(`SELECT ${tables.map((t) => `(SELECT count(*) FROM ${t})::int AS ${t}`).join(', ')}`);
  return row;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:writes failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
