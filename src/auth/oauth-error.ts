/**
 * An error answered the OAuth way (RFC 6749 §5.2): JSON {error, error_description} with status 400,
 * or 401 for a client that failed to authenticate. The token and introspection endpoints throw these;
 * the FHIR endpoints use OperationOutcomes instead.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope';

export class OAuthError extends Error {
  readonly status: number;
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = 'OAuthError';
    this.status = error === 'invalid_client' ? 401 : 400;
  }
}
