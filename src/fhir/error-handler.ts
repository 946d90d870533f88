import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AccessDenied, Unauthenticated } from '../auth/errors';
import { InvalidSearch } from '../search/errors';
import { loggable } from '../logging';
import { describeFailure } from '../audit/middleware';
import { OutcomeError, badRequest, forbidden, notFound, payloadTooLarge, serverError, unauthorized, unsupportedMediaType } from './outcomes';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Unknown paths get a FHIR 404 rather than Express's HTML page. */
export const unknownRoute: RequestHandler = (req, _res, next) => {
  next(notFound(`No route for ${req.method} ${req.path}`));
};

/**
 * The one place errors become responses. Client mistakes (OutcomeError, body-parser's 4xx) keep their
 * status and message; anything else is a bug: logged with its stack, answered with a bare 500 that
 * reveals no SQL, stack or internals.
 */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const outcome = toOutcomeError(err);
  // Name, message and stack only: a database error also carries the statement's bound values (PHI).
  if (outcome.status >= 500) req.log?.error({ err: loggable(err) }, 'request failed');
  describeFailure(res, outcome.diagnostics);
  res.status(outcome.status);
  for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
  res.type(FHIR_JSON).send(JSON.stringify(outcome.toOperationOutcome()));
};

/** Any error as the OperationOutcome error a client sees (a 500 for anything not a client's mistake). */
export function toOutcomeError(err: unknown): OutcomeError {
  if (err instanceof OutcomeError) return err;
  if (err instanceof Unauthenticated) return unauthorized(err.reason);
  if (err instanceof AccessDenied) return forbidden(err.message, err.scope);
  if (err instanceof InvalidSearch) return badRequest(err.message, [err.parameter]);
  // body-parser and the router mark client errors with a 4xx status (a malformed %-escape in the path is one).
  const e = err as { status?: number; type?: string };
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    if (e.type === 'entity.too.large') return payloadTooLarge('Request body is larger than the configured limit');
    if (e.type === 'entity.parse.failed') return badRequest('Request body is not valid JSON');
    if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') return unsupportedMediaType('Request bodies are accepted in UTF-8, without content encoding');
    if (err instanceof URIError) return badRequest('The request URL is not validly percent-encoded');
    return new OutcomeError(e.status, 'invalid', 'The request could not be processed');
  }
  if (err instanceof URIError) return badRequest('The request URL is not validly percent-encoded');
  return serverError();
}
