import { allowNamedStatements } from './prepared';
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { WebSocket } from 'ws';
import type { DatabaseConfig } from '../config';
import { entities } from '../../entities';
import { migrations } from '../../migrations';

export type Backend = DatabaseConfig['kind'];

export interface Database {
  readonly backend: Backend;
  readonly dataSource: DataSource;
  close(): Promise<void>;
  /** Embedded only: the data directory as a tarball (tests prepare one migrated instance and clone it). */
  dumpDataDir?: () => Promise<Blob>;
}

export interface OpenOptions {
  poolSize?: number;
  /** Embedded only: start from a dumped data directory (tests clone one prepared instance). */
  loadDataDir?: Blob;
}

/** Options every backend shares (also used by ormconfig.ts for TypeORM's own CLI). */
export const commonOptions = {
  type: 'postgres' as const,
  entities,
  migrations,
  migrationsTableName: 'typeorm_migrations',
  // PGlite cannot install uuid-ossp; gen_random_uuid() comes from pgcrypto/core on every backend.
  uuidExtension: 'pgcrypto' as const,
  installExtensions: false,
  synchronize: false,
  migrationsRun: false,
  logging: false,
};

/**
 * Opens the configured backend. All three end up behind TypeORM's postgres driver with a real pool:
 * embedded PGlite is served by an in-process pglite-socket server so that each pooled connection is
 * its own session and concurrent transactions stay isolated (typeorm-pglite shares one session).
 */
export async function openDatabase(cfg: DatabaseConfig, opts: OpenOptions = {}): Promise<Database> {
  const poolSize = opts.poolSize ?? 10;
  switch (cfg.kind) {
    case 'postgres': {
      const ds = new DataSource({ ...commonOptions, url: cfg.url, extra: { max: poolSize } } as DataSourceOptions);
      await ds.initialize();
      allowNamedStatements(ds);
      return { backend: 'postgres', dataSource: ds, close: () => ds.destroy() };
    }
    case 'neon': {
      const neon = await import('@neondatabase/serverless');
      if (cfg.wsProxy !== null) configureLocalNeonProxy(neon.neonConfig, cfg.wsProxy);
      const ds = new DataSource({ ...commonOptions, url: cfg.url, driver: neon, extra: { max: poolSize } } as DataSourceOptions);
      await ds.initialize();
      allowNamedStatements(ds);
      return { backend: 'neon', dataSource: ds, close: () => ds.destroy() };
    }
    case 'embedded':
      return openEmbedded(cfg.dataDir, poolSize, opts.loadDataDir);
  }
}

function configureLocalNeonProxy(neonConfig: typeof import('@neondatabase/serverless').neonConfig, proxy: string): void {
  neonConfig.webSocketConstructor = WebSocket;
  neonConfig.wsProxy = (host: string, port: number | string) => `${proxy}?address=${host}:${port}`;
  // A plain local proxy speaks ws://, scram needs the unpipelined handshake, and coalescing adds ~1 ms a query.
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineConnect = false;
  neonConfig.coalesceWrites = false;
}

async function openEmbedded(dataDir: string | null, poolSize: number, loadDataDir?: Blob): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const unlock = dataDir === null ? () => undefined : lockDataDir(dataDir);
  let pglite: InstanceType<typeof PGlite>;
  try {
    pglite = await PGlite.create({ ...(dataDir !== null ? { dataDir } : {}), ...(loadDataDir ? { loadDataDir } : {}) });
  } catch (err) {
    unlock();
    throw err;
  }
  const server = new PGLiteSocketServer({ db: wholeQueries(pglite), host: '127.0.0.1', port: 0, maxConnections: poolSize + 4 });
  await server.start();
  const [host, port] = server.getServerConn().split(':');
  const ds = new DataSource({
    ...commonOptions,
    host,
    port: Number(port),
    username: 'postgres',
    database: 'postgres',
    extra: { max: poolSize },
  } as DataSourceOptions);
  try {
    await ds.initialize();
  } catch (err) {
    await server.stop();
    await pglite.close();
    unlock();
    throw err;
  }
  return {
    backend: 'embedded',
    dataSource: ds,
    dumpDataDir: async () => (await pglite.dumpDataDir('none')) as Blob,
    async close() {
      await ds.destroy();
      await server.stop();
      await pglite.close();
      unlock();
    },
  };
}

/** Extended-protocol messages that leave a query unfinished until the client's Sync. */
const EXTENDED = new Set(['P', 'B', 'D', 'E', 'C', 'H'].map((c) => c.charCodeAt(0)));
const ENDS = new Set(['S', 'Q', 'X'].map((c) => c.charCodeAt(0)));

/**
 * pglite-socket runs every connection on PGlite's one session, one protocol MESSAGE at a time, and keeps
 * a connection's turn only while a transaction is open. An autocommit query with parameters is several
 * messages (Parse, Bind, Describe, Execute, Sync): two connections' messages interleaved, one's Bind met
 * the other's unnamed statement ("bind message supplies 1 parameters, but prepared statement requires
 * 3"), or read the other's rows. Reporting "in a transaction" from the first message of a query to its
 * Sync keeps each query whole, the way the server already keeps transactions whole.
 */
function wholeQueries<T extends { isInTransaction(): boolean; execProtocolRawStream: unknown }>(pglite: T): T {
  let unfinished = false;
  return new Proxy(pglite, {
    get(target, prop) {
      if (prop === 'isInTransaction') return () => unfinished || target.isInTransaction();
      if (prop === 'execProtocolRawStream') {
        return (message: Uint8Array, options: unknown) => {
          if (EXTENDED.has(message[0])) unfinished = true;
          else if (ENDS.has(message[0])) unfinished = false;
          return (target.execProtocolRawStream as (m: Uint8Array, o: unknown) => Promise<unknown>).call(target, message, options);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      // PGlite keeps its state in private fields: its methods must run on the PGlite itself, not the proxy.
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * PGlite is a single-process database: two processes on one data directory corrupt it. A lock file
 * holding the owner's pid refuses the second; a stale one (its process gone) is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  const lockFile = path.join(dataDir, 'gateway.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(fs.readFileSync(lockFile, 'utf8'));
      if (owner && owner !== process.pid && processAlive(owner)) {
        throw new Error(`DATA_DIR ${dataDir} is in use by process ${owner}; stop it or choose another DATA_DIR`);
      }
      fs.rmSync(lockFile, { force: true });
    }
  }
  throw new Error(`could not lock DATA_DIR ${dataDir}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

