import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { accessOf, authenticate } from '../auth/authenticate';
import { beginAudit } from '../audit/middleware';
import type { AuditScope } from '../audit/record';
import { FHIR_JSON } from './error-handler';
import type { FhirDeps, FhirRequest, Route } from './interaction';
import { notAcceptable, unsupportedMediaType } from './outcomes';
import { fhirRoutes } from './routes';

/** Builds the Express router for /fhir from the interaction table. */
export function fhirRouter(deps: FhirDeps): Router {
  const router = Router();
  const auth = authenticate(deps.auth);
  for (const route of fhirRoutes(deps.config.canonicalBase).routes) {
    const chain: RequestHandler[] = [begin(route, deps), negotiate];
    if (!route.public) chain.push(auth);
    if (route.form) chain.push(formBody, express.text({ type: FORM, limit: '1mb' }));
    if (route.body === 'resource') chain.push(...jsonBody(FHIR_TYPES, deps.config.maxBodyBytes, 'a FHIR resource as application/fhir+json'));
    if (route.body === 'json-patch') chain.push(...jsonBody(PATCH_TYPES, deps.config.maxBodyBytes, 'a JSON Patch as application/json-patch+json'));
    chain.push(adapt(route, deps));
    router[route.method.toLowerCase() as 'get'](route.path, ...chain);
  }
  // No route: still an attempt on the FHIR API ($everything, a DELETE of an Observation ...), audited
  // with what was asked before the app answers 404.
  router.use((req, res, next) => {
    beginAudit(res, { eventType: 'rest', subtype: 'operation', resourceType: null, id: null, version: null, query: `${req.method} ${askedQuery(req)}` });
    next();
  });
  return router;
}

/** Interactions whose AuditEvent carries the query asked (BALP's query entity). */
const QUERIES = new Set(['search-type', 'history-type', 'history-instance']);

/**
 * Opens the interaction's audit before anything can refuse it (a 401, a 406, a malformed body are all
 * audited with what was asked), and refuses new work while the audit cannot keep up.
 */
function begin(route: Route, deps: FhirDeps): RequestHandler {
  return (req, res, next) => {
    const scope = beginAudit(res, {
      eventType: 'rest',
      subtype: route.interaction,
      resourceType: route.resourceType ?? null,
      id: typeof req.params.id === 'string' ? req.params.id : null,
      version: typeof req.params.vid === 'string' ? req.params.vid : null,
      query: QUERIES.has(route.interaction) ? askedQuery(req) : null,
    });
    // Discovery is not a FHIR interaction: the access log has it.
    if (route.interaction === 'smart-configuration') scope.recorded = true;
    next();
  };
}

function adapt(route: Route, deps: FhirDeps): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const audit = res.locals.audit as AuditScope;
    const query = queryOf(req);
    if (!route.public) audit.access = accessOf(req);
    // POST _search: the form's parameters are part of what was asked.
    if (QUERIES.has(route.interaction)) audit.query = askedQuery(req);
    // A search of the audit log is not a look at the patient's data: it is audited by its query alone.
    if (route.interaction === 'search-type' && route.resourceType !== 'AuditEvent') audit.asked = patientsNamed(route.resourceType ?? '', query);
    const fhirReq: FhirRequest = {
      params: req.params as Record<string, string>,
      query,
      headers: req.headers,
      access: route.public ? null : accessOf(req),
      body: route.body ? req.body : undefined,
      audit,
    };
    audit.settled = route
      .handler(fhirReq, deps)
      .then((out) => {
        if (out.audit) audit.facts = out.audit;
        res.status(out.status);
        for (const [name, value] of Object.entries(out.headers ?? {})) res.setHeader(name, value);
        // Prefer: return=minimal: headers only.
        if (out.body === undefined) {
          res.end();
          return;
        }
        const pretty = fhirReq.query._pretty?.at(-1) === 'true';
        res.type(out.contentType ?? FHIR_JSON).send(JSON.stringify(out.body, null, pretty ? 2 : undefined));
      })
      .catch(next);
  };
}

/** The query as the client sent it (path and query string, then a POST _search form's parameters). */
function askedQuery(req: Request): string {
  const form = typeof req.body === 'string' && req.body.trim() !== '' ? req.body.trim() : '';
  const [path, search] = [req.originalUrl.split('?')[0], req.originalUrl.split('?').slice(1).join('?')];
  const parts = [search, form].filter((p) => p !== '');
  return parts.length ? `${path}?${parts.join('&')}` : path;
}

/** Patients a search asks about by name (patient=, subject=, Patient?_id=): named in its event even when nothing is found. */
function patientsNamed(resourceType: string, query: Readonly<Record<string, readonly string[]>>): string[] {
  const names = resourceType === 'Patient' ? ['_id'] : ['patient', 'subject', 'patient:Patient', 'subject:Patient'];
  return names.flatMap((name) => (query[name] ?? []).flatMap((value) => value.split(','))).map((v) => v.replace(/^(?:.*\/)?Patient\//, ''));
}

/** URL parameters, then (POST _search) the form body's: FHIR applies both. */
function queryOf(req: Request): Record<string, string[]> {
  // No prototype: a parameter named constructor or __proto__ is just a (unknown) parameter.
  const query: Record<string, string[]> = Object.create(null);
  const add = (raw: string) => {
    for (const [name, value] of new URLSearchParams(raw)) (query[name] ??= []).push(value);
  };
  add(req.url.split('?')[1] ?? '');
  if (typeof req.body === 'string') add(req.body);
  return query;
}

const FORM = 'application/x-www-form-urlencoded';
const FHIR_TYPES = ['application/fhir+json', 'application/json'];
const PATCH_TYPES = ['application/json-patch+json'];

const hasBody = (req: Request): boolean => Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;

/**
 * A JSON body of one of `types` (media-type parameters such as fhirVersion allowed), at most `limit`
 * bytes: another media type is a 415, malformed JSON a 400 and a larger body a 413 (the error handler
 * turns body-parser's errors into OperationOutcomes).
 */
function jsonBody(types: string[], limit: number, what: string): RequestHandler[] {
  const check: RequestHandler = (req, _res, next) => {
    if (hasBody(req) && !req.is(types)) {
      next(unsupportedMediaType(`This interaction takes ${what}, not ${req.headers['content-type'] ?? 'a body without Content-Type'}`));
      return;
    }
    next();
  };
  return [check, express.json({ type: types, limit, strict: true })];
}

/** POST _search takes a form (or nothing); any other body is a 415. */
const formBody: RequestHandler = (req, _res, next) => {
  if (hasBody(req) && !req.is(FORM)) {
    next(unsupportedMediaType(`POST _search takes its parameters as ${FORM}`));
    return;
  }
  next();
};

const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json']);
const XML_FORMATS = new Set(['xml', 'text/xml', 'application/xml', 'application/fhir+xml']);

/**
 * Whether an Accept header admits FHIR JSON. Media-type parameters (fhirVersion=4.0, charset) do not
 * rule JSON out (Express's negotiator would demand they match exactly); q=0 does.
 */
function acceptsJson(accept: string): boolean {
  return accept.split(',').some((range) => {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    if (q !== undefined && !(Number(q.slice(2)) > 0)) return false;
    return ['*/*', 'application/*', 'application/json', 'application/fhir+json'].includes(type);
  });
}

/** JSON only: _format=xml or an Accept that excludes JSON gets 406 (with an OperationOutcome, in JSON). */
const negotiate: RequestHandler = (req, _res, next) => {
  const raw = new URLSearchParams(req.url.split('?')[1] ?? '').get('_format');
  // MIME parameters (fhirVersion=4.0, charset) do not change the format.
  const format = raw === null ? null : raw.split(';')[0].trim().toLowerCase();
  if (format !== null && !JSON_FORMATS.has(format)) {
    next(notAcceptable(XML_FORMATS.has(format) ? 'This server speaks FHIR JSON only; XML is not supported' : `_format ${format} is not supported; use json`));
    return;
  }
  if (req.headers.accept && !acceptsJson(req.headers.accept)) {
    next(notAcceptable('This server speaks FHIR JSON only: accept application/fhir+json or application/json'));
    return;
  }
  next();
};
