import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { type Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'medilens-fhir-gateway' } }, destination);
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

/**
 * One JSON line per request. Query strings are left out (search parameters carry names, birth dates,
 * identifiers: PHI) and so are headers (Authorization carries tokens). The request id comes from a
 * well-formed incoming X-Request-Id or is generated, and is echoed in the response header.
 */
export function requestLogger(logger: Logger): HttpLogger {
  return pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    serializers: {
      req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        path: req.url.split('?')[0],
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
  });
}

/**
 * What a failed request logs: never the statement's parameters, and quoted values in messages (Postgres
 * quotes the offending input: 'invalid input syntax for type date: "..."') are blanked.
 */
export function loggable(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const db = ((err as { driverError?: unknown }).driverError ?? err) as { code?: unknown; constraint?: unknown; routine?: unknown };
  return {
    type: err.name,
    message: err.message.replace(/"[^"]*"/g, '"…"'),
    code: db.code,
    constraint: db.constraint,
    routine: db.routine,
    stack: err.stack?.split('\n').slice(1).join('\n'),
  };
}
