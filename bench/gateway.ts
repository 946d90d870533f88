import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import { createApp, createAuditTrail } from '../src/app';
import { AuditTrail, type AuditTrailOptions } from '../src/audit/trail';
import { registerClient, removeClient } from '../src/auth/clients';
import { loadConfig, type Config } from '../src/config';
import { openDatabase, type Database } from '../src/db/datasource';
import { createLogger } from '../src/logging';
import { listen, type RunningServer } from '../src/server';

export const BENCH_CLIENT_ID = 'medilens-bench';
export const BENCH_SCOPE = 'system/*.rs';

/** Log lines of level error and above the gateway wrote during the run (the first few kept). */
export interface LogCapture {
  errors: number;
  warnings: number;
  samples: string[];
}

/**
 * Every statement the gateway sent since the last reset, by text, with the parameters of its first run
 * and the time from sending it to its result arriving in the gateway (hrtime: includes waiting for a busy
 * event loop, which is what a saturated gateway shows).
 */
export interface TracedStatement {
  sql: string;
  count: number;
  params: unknown[];
  totalMs: number;
  maxMs: number;
}

/** HTTP requests the server has received, and how many of them have not closed yet. */
export interface RequestCount {
  received: number;
  inFlight: number;
}

export interface Gateway {
  readonly base: string;
  readonly config: Config;
  readonly db: Database;
  readonly log: LogCapture;
  /** The gateway's audit trail (AUDIT=off: disabled), closed (written out) by stop(). */
  readonly audit: AuditTrail;
  /** Counted at the HTTP server, whatever the app does with them. */
  readonly requests: RequestCount;
  /**
   * Resolves once no request is in flight and no database connection of the gateway is in use (a request
   * whose client went away may still be at work), or rejects after timeoutMs.
   */
  idle(timeoutMs?: number): Promise<void>;
  /** Statements sent since the last reset. */
  statements(): TracedStatement[];
  /** Starts a new window for statements(). */
  resetTrace(): void;
  /** A fresh access token from the gateway's own token endpoint (private_key_jwt assertion). */
  token(): Promise<string>;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  databaseUrl: string;
  poolSize?: number;
  logLevel: 'warn' | 'error' | 'silent';
  /** The bench client's scope (default BENCH_SCOPE) and organization (default none: all organizations). */
  scope?: string;
  organizationId?: string;
  /** The audit trail on or off (AUDIT); default: as the environment says (on unless AUDIT=off). */
  audit?: boolean;
  /** AUDIT_SOURCE: the recorder named in each AuditEvent. */
  auditSource?: string;
  /** Overrides the trail's flush interval and batch size (to tune them; the gateway has no setting for these). */
  auditTuning?: Partial<Pick<AuditTrailOptions, 'flushIntervalMs' | 'maxBatch'>>;
}

/**
 * The gateway as src/main.ts starts it, in this process: the configuration from the environment (but the
 * given database, port 0 on loopback, no demo bootstrap), createApp behind listen(), the URLs carrying
 * the bound port. A backend-services client is (re-)registered with a fresh ES384 key for the run.
 */
export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: opts.databaseUrl,
    DATABASE_DRIVER: 'pg',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: opts.logLevel,
    DEMO_DATA: 'false',
    PUBLIC_BASE_URL: undefined,
    ...(opts.poolSize !== undefined ? { DB_POOL_SIZE: String(opts.poolSize) } : {}),
    ...(opts.audit !== undefined ? { AUDIT: opts.audit ? 'on' : 'off' } : {}),
    ...(opts.auditSource !== undefined ? { AUDIT_SOURCE: opts.auditSource } : {}),
  };
  const config = loadConfig(env);
  const log: LogCapture = { errors: 0, warnings: 0, samples: [] };
  const logger = createLogger(config.logLevel, {
    write(line: string) {
      const level = (/"level":(\d+)/.exec(line) ?? [])[1];
      if (Number(level) >= 50) log.errors++;
      else log.warnings++;
      if (log.samples.length < 5) {
        log.samples.push(line.trim());
        process.stderr.write(`gateway: ${line}`);
      }
    },
  });
  const db = await openDatabase(config.database, { poolSize: config.dbPoolSize });
  const traced = new Map<string, TracedStatement>();
  traceStatements(traced);
  // As src/main.ts: this month's partitions for both logs (else rows land in the default partitions).
  await db.dataSource.query(`SELECT ensure_monthly_partitions('access_logs', current_date, 3), ensure_monthly_partitions('audit_events', current_date, 3)`);
  const built = createAuditTrail({ config, db, logger });
  const audit = opts.auditTuning ? new AuditTrail(db.dataSource, logger, { ...built.options, ...opts.auditTuning }) : built;

  let base = config.publicBaseUrl;
  let running: RunningServer;
  try {
    running = await listen(
      (port) => {
        base = config.publicBaseUrl.replace(/:\d+$/, `:${port}`);
        return createApp({ config: { ...config, publicBaseUrl: base }, db, logger, audit });
      },
      0,
      config.host,
    );
  } catch (err) {
    await db.close();
    throw err;
  }
  const requests: RequestCount = { received: 0, inFlight: 0 };
  running.server.on('request', (_req, res: import('node:http').ServerResponse) => {
    requests.received++;
    requests.inFlight++;
    res.once('close', () => requests.inFlight--);
  });

  const key = await clientKey();
  await removeClient(db.dataSource, BENCH_CLIENT_ID);
  await registerClient(db.dataSource, {
    clientId: BENCH_CLIENT_ID,
    jwks: { keys: [key.publicJwk] },
    scope: opts.scope ?? BENCH_SCOPE,
    organizationId: opts.organizationId ?? null,
    description: 'npm run bench (re-registered with a new key at every run)',
  });

  const tokenUrl = `${base}/auth/token`;
  return {
    base,
    config: { ...config, publicBaseUrl: base },
    db,
    log,
    audit,
    requests,
    async idle(timeoutMs = 10_000) {
      // TypeORM's postgres driver keeps its pg.Pool as `master`.
      const pool = (db.dataSource.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number } }).master;
      const busy = () => requests.inFlight + (pool ? pool.totalCount - pool.idleCount + pool.waitingCount : 0);
      const until = performance.now() + timeoutMs;
      for (let quiet = 0; quiet < 2; ) {
        if (performance.now() > until) throw new Error(`gateway not idle after ${timeoutMs} ms: ${requests.inFlight} requests in flight, ${busy() - requests.inFlight} connections busy`);
        await new Promise((r) => setTimeout(r, 5));
        quiet = busy() === 0 ? quiet + 1 : 0;
      }
    },
    statements: () => [...traced.values()].map((t) => ({ ...t, sql: t.sql.replace(/\s+/g, ' ').trim() })),
    resetTrace: () => traced.clear(),
    async token() {
      const res = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: opts.scope ?? BENCH_SCOPE,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await assertion(key, tokenUrl),
        }),
      });
      const body = (await res.json().catch(() => ({}))) as { access_token?: string };
      if (res.status !== 200 || !body.access_token) {
        throw new Error(`token request to ${tokenUrl} failed: HTTP ${res.status} ${JSON.stringify(body)}`);
      }
      return body.access_token;
    },
    async stop() {
      untraceStatements();
      await running.stop(2000);
      // As src/main.ts on shutdown: what the requests queued for the audit is written before the database closes.
      try {
        await audit.close();
      } finally {
        await removeClient(db.dataSource, BENCH_CLIENT_ID).catch(() => false);
        await db.close();
      }
    },
  };
}

interface ClientKey {
  kid: string;
  privateKey: KeyLike;
  publicJwk: JWK;
}

async function clientKey(): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = `bench-${crypto.randomUUID().slice(0, 8)}`;
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' } };
}

/** A SMART Backend Services client assertion (single use: a new jti every time). */
function assertion(key: ClientKey, tokenUrl: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES384', kid: key.kid, typ: 'JWT' })
    .setIssuer(BENCH_CLIENT_ID)
    .setSubject(BENCH_CLIENT_ID)
    .setAudience(tokenUrl)
    .setIssuedAt()
    .setExpirationTime('4m')
    .setJti(crypto.randomUUID())
    .sign(key.privateKey);
}

/**
 * The benchmark's own pg connections (raw floor, parameters, EXPLAIN): a subclass, so the statement
 * trace below can leave them out.
 */
export class BenchClient extends pg.Client {}

const originalQuery = pg.Client.prototype.query;

/**
 * Traces every statement sent on a pg connection of this process other than the benchmark's own, which
 * leaves the gateway's: TypeORM queries and the named prepared statements the search code sends on the
 * transaction's connection both end in pg.Client#query. For the benchmark process only.
 */
function traceStatements(into: Map<string, TracedStatement>): void {
  pg.Client.prototype.query = function traced(this: pg.Client, ...args: unknown[]) {
    // eslint-disable-next-line prefer-rest-params
    const result = (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
    if (this instanceof BenchClient || !(result instanceof Promise)) return result;
    const [config, values] = args as [string | { text?: string; values?: unknown[] }, unknown[] | undefined];
    const text = typeof config === 'string' ? config : config?.text ?? '';
    const params = (typeof config === 'string' ? values : config?.values ?? values) ?? [];
    const t0 = performance.now();
    const done = () => {
      const ms = performance.now() - t0;
      let entry = into.get(text);
      if (!entry) into.set(text, (entry = { sql: text, count: 0, params, totalMs: 0, maxMs: 0 }));
      entry.count++;
      entry.totalMs += ms;
      if (ms > entry.maxMs) entry.maxMs = ms;
    };
    result.then(done, done);
    return result;
  } as typeof pg.Client.prototype.query;
}

function untraceStatements(): void {
  pg.Client.prototype.query = originalQuery;
}
