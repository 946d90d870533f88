/**
 * What authentication and authorization conclude, as values; the FHIR layer's error handler turns them
 * into 401/403 OperationOutcomes with RFC 6750 challenges (auth knows nothing of HTTP bodies).
 */

/** No usable credentials: reason null when none were sent at all (a bare challenge, no error code). */
export class Unauthenticated extends Error {
  constructor(readonly reason: string | null) {
    super(reason ?? 'A bearer access token is required');
    this.name = 'Unauthenticated';
  }
}

/** Authenticated, but the token does not allow this; `scope` names what would have. */
export class AccessDenied extends Error {
  constructor(
    message: string,
    readonly scope: string | null,
  ) {
    super(message);
    this.name = 'AccessDenied';
  }
}
