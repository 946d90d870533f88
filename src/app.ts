import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { Config } from './config';
import type { Database } from './db/datasource';
import { errorHandler, unknownRoute } from './fhir/error-handler';
import { requestLogger } from './logging';
import { healthRoutes } from './ops/health';

/** Everything the app needs, passed in: no module-level singletons, so tests build as many apps as they like. */
export interface AppDeps {
  config: Config;
  db: Database;
  logger: Logger;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(requestLogger(deps.logger));
  app.use(healthRoutes(deps.db));
  app.use(unknownRoute);
  app.use(errorHandler);
  return app;
}
