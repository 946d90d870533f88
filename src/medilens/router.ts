import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { dbIdentity, rowAccess } from '../auth/access';
import { factsOf } from '../audit/facts';
import { beginAudit } from '../audit/middleware';
import type { AuditScope } from '../audit/record';
import type { AuditedWrite, AuditTrail } from '../audit/trail';
import { accessOf, authenticate } from '../auth/authenticate';
import type { AuthServices } from '../auth/services';
import type { Config } from '../config';
import type { Database } from '../db/datasource';
import { withDbContext } from '../db/context';
import { badRequest, forbidden, unsupportedMediaType } from '../fhir/outcomes';
import { resolvePatient } from '../ingest/patient';
import { confirmReach, type ResultDefinitions } from '../ingest/reach';
import type { ResourceDefinition } from '../search/definition';
import type { ViewRow } from '../search/query';
import { resourceDefinitions } from '../search/registry';
import { parseResultDocument } from '../ingest/validate';
import { ingestResult } from '../ingest/write';

export interface MedilensDeps {
  readonly config: Config;
  readonly db: Database;
  readonly auth: AuthServices;
  readonly audit: AuditTrail;
}

const JSON_TYPES = ['application/json', 'application/fhir+json'];

/**
 * MediLens-native endpoints, beside /fhir: `POST /medilens/assessments` takes a pipeline's result
 * document and stores it in one transaction (src/ingest/). Same tokens as /fhir; errors are
 * OperationOutcomes from the app's error handler (body-parser's 400/413 included).
 */
export function medilensRouter(deps: MedilensDeps): Router {
  const router = Router();
  router.post('/assessments', audited, authenticate(deps.auth), jsonOnly, express.json({ limit: deps.config.maxBodyBytes, type: JSON_TYPES }), ingest(deps));
  return router;
}

/** A result document creates (or, repeated, matches) a DiagnosticReport: audited as its create. */
const audited: RequestHandler = (_req, res, next) => {
  beginAudit(res, { eventType: 'rest', subtype: 'create', resourceType: 'DiagnosticReport', id: null, version: null, query: null });
  next();
};

/** A body of any other type is a 415; no body at all is left to the document check (400). */
const jsonOnly: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.is(JSON_TYPES)) {
    next(unsupportedMediaType(`A result document is sent as ${JSON_TYPES.join(' or ')}`));
    return;
  }
  next();
};

function ingest(deps: MedilensDeps): RequestHandler {
  const byType = resourceDefinitions(deps.config.canonicalBase);
  const defs: ResultDefinitions = {
    report: byType.get('DiagnosticReport') as ResourceDefinition<ViewRow>,
    observation: byType.get('Observation') as ResourceDefinition<ViewRow>,
  };
  return (req: Request, res: Response, next: NextFunction) => {
    const access = accessOf(req);
    // Scopes before content: a caller that may not create reports learns nothing about its document.
    const report = rowAccess(access, 'DiagnosticReport', 'c');
    // A result names its patient (by id or MRN) and answers with the id: re-identification for a researcher.
    if (!access.identifiable) throw forbidden(`The ${access.role} role cannot write results: a result identifies its patient`);
    if (req.body === undefined) throw badRequest('A result document (a JSON object) is required as the request body');
    const doc = parseResultDocument(req.body);
    const reach = { report, observations: doc.biomarkers.length ? rowAccess(access, 'Observation', 'c') : null };
    const audit = res.locals.audit as AuditScope;
    audit.access = access;
    let writes: AuditedWrite[] = [];
    audit.settled = withDbContext(deps.db.dataSource, dbIdentity(access), async (tx) => {
      const owner = await resolvePatient(tx, doc.patient, report);
      const written = await ingestResult(tx, doc, owner);
      await confirmReach(tx, written, reach, defs);
      const ref = `DiagnosticReport/${written.assessmentId}`;
      writes = [{ scope: audit, status: written.created ? 201 : 200, facts: { entities: [ref], patients: [owner.patientId], organizations: owner.organizationId ? [owner.organizationId] : [] } }];
      await deps.audit.writeWith(tx, writes);
      return written;
    })
      .then((written) => {
        deps.audit.markWritten(writes);
        res.status(written.created ? 201 : 200);
        res.setHeader('Location', `${deps.config.publicBaseUrl}/fhir/DiagnosticReport/${written.assessmentId}`);
        res.json({
          assessment_id: written.assessmentId,
          diagnostic_report: `DiagnosticReport/${written.assessmentId}`,
          observations: written.observationIds.map((id) => `Observation/${id}`),
          created: written.created,
        });
      })
      .catch(next);
  };
}
