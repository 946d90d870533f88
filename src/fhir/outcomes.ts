import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4';

type IssueCode = OperationOutcomeIssue['code'];

/**
 * Every error a client can cause travels as one of these and is turned into an OperationOutcome with
 * its HTTP status by the single error handler (src/fhir/error-handler.ts). Handlers never build error
 * responses by hand.
 */
export class OutcomeError extends Error {
  constructor(
    readonly status: number,
    readonly code: IssueCode,
    readonly diagnostics: string,
    readonly expression?: string[],
    readonly headers: Record<string, string> = {},
    /** Further issues (a validation reports every problem it found, not only the first). */
    readonly more: readonly OperationOutcomeIssue[] = [],
  ) {
    super(diagnostics);
    this.name = 'OutcomeError';
  }

  toOperationOutcome(): OperationOutcome {
    const outcome = operationOutcome(this.status >= 500 ? 'fatal' : 'error', this.code, this.diagnostics, this.expression);
    outcome.issue.push(...this.more);
    return outcome;
  }
}

export function operationOutcome(
  severity: OperationOutcomeIssue['severity'],
  code: IssueCode,
  diagnostics: string,
  expression?: string[],
): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity, code, diagnostics, ...(expression?.length ? { expression } : {}) }],
  };
}

export const badRequest = (diagnostics: string, expression?: string[]) => new OutcomeError(400, 'invalid', diagnostics, expression);
/** One error carrying every issue found (a validation reports all its problems, not only the first). */
export function withIssues(
  status: number,
  code: IssueCode,
  issues: readonly { diagnostics: string; expression?: string[] }[],
  fallback: string,
): OutcomeError {
  const [first = { diagnostics: fallback }, ...rest] = issues;
  const more = rest.map((i): OperationOutcomeIssue => ({ severity: 'error', code, diagnostics: i.diagnostics, ...(i.expression?.length ? { expression: i.expression } : {}) }));
  return new OutcomeError(status, code, first.diagnostics, first.expression, {}, more);
}
/** A resource that breaks FHIR or MediLens rules (a CHECK range, a binding the mapping needs). */
export const unprocessable = (issues: readonly { diagnostics: string; expression?: string[] }[]) => withIssues(422, 'processing', issues, 'The resource cannot be processed');
/** A request that does not parse as FHIR (wrong types, unknown elements). */
export const invalidResource = (issues: readonly { diagnostics: string; expression?: string[] }[]) => withIssues(400, 'structure', issues, 'The resource is not valid FHIR');
export const conflict = (diagnostics: string, expression?: string[]) => new OutcomeError(409, 'conflict', diagnostics, expression);
export const preconditionFailed = (diagnostics: string) => new OutcomeError(412, 'conflict', diagnostics);
export const notFound = (diagnostics = 'Not found') => new OutcomeError(404, 'not-found', diagnostics);
export const gone = (diagnostics = 'Deleted') => new OutcomeError(410, 'deleted', diagnostics);
export const notAcceptable = (diagnostics: string) => new OutcomeError(406, 'not-supported', diagnostics);
export const unsupportedMediaType = (diagnostics: string) => new OutcomeError(415, 'not-supported', diagnostics);
export const payloadTooLarge = (diagnostics: string) => new OutcomeError(413, 'too-costly', diagnostics);
export const serverError = () => new OutcomeError(500, 'exception', 'Internal server error');
export const serviceUnavailable = (diagnostics: string) => new OutcomeError(503, 'transient', diagnostics);
/** RFC 6750 §3.1: a token without the needed scope is told which scope would do. */
export function forbidden(diagnostics: string, scope: string | null = null, realm = 'MediLens FHIR Gateway'): OutcomeError {
  const headers: Record<string, string> = scope === null ? {} : { 'WWW-Authenticate': `Bearer realm="${realm}", error="insufficient_scope", scope="${scope}"` };
  return new OutcomeError(403, 'forbidden', diagnostics, undefined, headers);
}
/** RFC 6750 §3: a missing token gets a bare challenge; a bad one says invalid_token and why. */
export function unauthorized(description: string | null, realm = 'MediLens FHIR Gateway'): OutcomeError {
  const challenge = description === null
    ? `Bearer realm="${realm}"`
    : `Bearer realm="${realm}", error="invalid_token", error_description="${description.replace(/["\\]/g, '')}"`;
  return new OutcomeError(401, description === null ? 'login' : 'security', description ?? 'A bearer access token is required', undefined, {
    'WWW-Authenticate': challenge,
  });
}
