import type { Request, RequestHandler, Response } from 'express';
import type { AccessContext } from '../auth/access';
import type { AuditScope, RequestInfo } from './record';
import type { AuditTrail } from './trail';

/** What a request carries for the audit (Express's res.locals). */
interface AuditLocals {
  auditRequest?: RequestInfo;
  audit?: AuditScope;
  /** The error text the client was given, for AuditEvent.outcomeDesc. */
  auditDescription?: string;
}

const locals = (res: Response): AuditLocals => res.locals as AuditLocals;

const MAX_USER_AGENT = 500;
const ERROR_HANDLER_GRACE_MS = 20;
const PROBES = new Set(['/healthz', '/readyz']);
const BEHIND = {
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'transient', diagnostics: 'The audit trail is behind; the request was not served. Retry shortly' }],
};
const MAX_ENDPOINT = 255;

/**
 * Mounted first (after the request id is assigned): when the response is done, queues the request's
 * access_logs row and, for an interaction that has not stored its event with its write, the AuditEvent
 * with the status it ended with. Nothing here touches the database on the response path.
 */
export function auditRequests(trail: AuditTrail): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const userAgent = typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'].slice(0, MAX_USER_AGENT) : null;
    const info: RequestInfo = { requestId: String(req.id), address: req.ip ?? null, userAgent };
    locals(res).auditRequest = info;
    // Behind on the audit: refuse rather than serve unaudited (probes excepted, /readyz says why).
    if (trail.overloaded && !PROBES.has(req.path)) {
      trail.refusedWhileBehind();
      res.status(503).set('Retry-After', '1').type('application/fhir+json').send(JSON.stringify(BEHIND));
      return;
    }
    res.on('close', () => {
      const access = (req.user as AccessContext | undefined) ?? null;
      const scope = locals(res).audit;
      if (scope && !scope.recorded) {
        scope.access ??= access;
        const left = 'the client closed the connection before the response';
        if (res.writableFinished) trail.record(scope, res.statusCode, locals(res).auditDescription ?? null);
        // The client left while the handler runs: its event waits for how the handler ends (a write may
        // still store its own, or fail); without a handler to wait for, it is a failure.
        // (Express defers next(err): the error handler sets the status a moment after the handler settles.)
        else if (scope.settled) void scope.settled.finally(() => setTimeout(() => trail.record(scope, res.statusCode, locals(res).auditDescription ?? left), ERROR_HANDLER_GRACE_MS));
        else trail.record(scope, 499, left);
      }
      trail.logAccess({
        user_id: access?.userId ?? null,
        endpoint: (req.originalUrl.split('?')[0] ?? '').slice(0, MAX_ENDPOINT),
        method: req.method.slice(0, 10),
        status_code: res.statusCode,
        response_time_ms: Math.round(performance.now() - started),
        ip_address: info.address,
        user_agent: userAgent,
      });
    });
    next();
  };
}

/** Starts the audit of the interaction a route serves; later steps complete it (access, facts). */
export function beginAudit(res: Response, scope: Omit<AuditScope, 'request' | 'recorded' | 'access'>): AuditScope {
  const request = locals(res).auditRequest ?? { requestId: 'unknown', address: null, userAgent: null };
  const audit: AuditScope = { ...scope, request, access: null, recorded: false };
  locals(res).audit = audit;
  return audit;
}

export const auditScopeOf = (res: Response): AuditScope | undefined => locals(res).audit;

/** The client-facing text of a failure, kept as the event's outcomeDesc. */
export function describeFailure(res: Response, text: string): void {
  locals(res).auditDescription = text;
}

/** A child interaction of a request (a Bundle entry), with the request's who and where. */
export function entryScope(parent: AuditScope, scope: Omit<AuditScope, 'request' | 'recorded' | 'access'>): AuditScope {
  return { ...scope, request: parent.request, access: parent.access, recorded: false };
}

export type { Request };
