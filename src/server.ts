import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Logger } from 'pino';

export interface RunningServer {
  readonly server: http.Server;
  readonly port: number;
  /** Stop accepting, let in-flight requests finish (up to timeoutMs, then cut them), then resolve. */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * Binds first, then builds the app from the bound port: with PORT=0 the app's own URLs (token
 * endpoint, links, the token audience) must name the port the system picked.
 */
export async function listen(makeApp: (port: number) => Express, port: number, host: string): Promise<RunningServer> {
  const server = http.createServer();
  server.listen(port, host);
  await once(server, 'listening');
  const bound = (server.address() as AddressInfo).port;
  server.on('request', makeApp(bound));
  return {
    server,
    port: bound,
    async stop(timeoutMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}

/** SIGTERM/SIGINT run `stop` once; a second signal while stopping forces the exit. */
export function onShutdownSignal(logger: Logger, stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) {
        logger.warn({ signal }, 'second signal while stopping: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      stop(signal).then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}
