import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { createAuthServices, type AuthServices } from './auth/services';
import { auditRequests } from './audit/middleware';
import { AuditTrail, DEFAULT_AUDIT_OPTIONS } from './audit/trail';
import { tokenRoutes } from './auth/token-routes';
import type { Config } from './config';
import type { Database } from './db/datasource';
import { errorHandler, unknownRoute } from './fhir/error-handler';
import { fhirRouter } from './fhir/router';
import { requestLogger } from './logging';
import { FhirValidator } from './validation/fhir-validator';
import { medilensRouter } from './medilens/router';
import { healthRoutes } from './ops/health';

/** Everything the app needs, passed in: no module-level singletons, so tests build as many apps as they like. */
export interface AppDeps {
  config: Config;
  db: Database;
  logger: Logger;
  /** Built from config and db when not given; tests pass their own to share one with a token minter. */
  auth?: AuthServices;
  /** The FHIR schema validator (compiled once, about 0.3 s); built when not given. */
  validator?: FhirValidator;
  /** Where AuditEvents and access_logs rows go; built from config when not given. Its owner closes it on shutdown. */
  audit?: AuditTrail;
}

/** The audit trail config asks for, to pass to createApp and close on shutdown. */
export function createAuditTrail(deps: Pick<AppDeps, 'config' | 'db' | 'logger'>): AuditTrail {
  return new AuditTrail(deps.db.dataSource, deps.logger, { ...DEFAULT_AUDIT_OPTIONS, ...deps.config.audit });
}

export function createApp(deps: AppDeps): Express {
  const auth = deps.auth ?? createAuthServices(deps.config, deps.db.dataSource);
  const audit = deps.audit ?? createAuditTrail(deps);
  const app = express();
  app.disable('x-powered-by');
  // FHIR resources carry their own ETag (W/"versionId"); hashing every response body for one is waste.
  app.set('etag', false);
  app.set('trust proxy', 'loopback');
  app.use(requestLogger(deps.logger));
  app.use(auditRequests(audit));
  app.use(healthRoutes(deps.db, audit));
  app.use(tokenRoutes(auth));
  app.use('/fhir', fhirRouter({ config: deps.config, db: deps.db, auth, validator: deps.validator ?? new FhirValidator(), audit }));
  app.use('/medilens', medilensRouter({ config: deps.config, db: deps.db, auth, audit }));
  app.use(unknownRoute);
  app.use(errorHandler);
  return app;
}
