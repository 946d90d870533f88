import type { ErrorRequestHandler, RequestHandler } from 'express';
import { OutcomeError, badRequest, notFound, payloadTooLarge, serverError } from './outcomes';

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
  if (outcome.status >= 500) req.log?.error({ err }, 'request failed');
  res.status(outcome.status);
  for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
  res.type(FHIR_JSON).send(JSON.stringify(outcome.toOperationOutcome()));
};

function toOutcomeError(err: unknown): OutcomeError {
  if (err instanceof OutcomeError) return err;
  // body-parser marks its errors with a status and an expose flag.
  const e = err as { status?: number; type?: string; expose?: boolean };
  if (e && typeof e.status === 'number' && e.expose) {
    if (e.type === 'entity.too.large') return payloadTooLarge('Request body is larger than the configured limit');
    if (e.type === 'entity.parse.failed') return badRequest('Request body is not valid JSON');
    return new OutcomeError(e.status, 'invalid', 'The request could not be processed');
  }
  return serverError();
}
