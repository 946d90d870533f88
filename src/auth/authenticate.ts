import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Passport } from 'passport';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import type { AccessContext } from './access';
import { accessFromToken, InvalidToken, type BearerDeps } from './bearer';
import { Unauthenticated } from './errors';

/**
 * passport with the bearer strategy, one instance per app (no global passport): a request without a
 * valid token stops here with 401 and a WWW-Authenticate challenge; otherwise req.user is its
 * AccessContext, which the route table hands to handlers explicitly.
 */
export function authenticate(deps: BearerDeps): RequestHandler {
  const passport = new Passport();
  passport.use(
    new BearerStrategy((token, done) => {
      accessFromToken(deps, token).then(
        (access) => done(null, access),
        (err: unknown) => (err instanceof InvalidToken ? done(null, false, err.message) : done(err)),
      );
    }),
  );
  return (req: Request, res: Response, next: NextFunction) => {
    // RFC 6750 §2.3: URLs end up in logs, histories and Referer headers.
    if (new URLSearchParams(req.url.split('?')[1] ?? '').has('access_token')) {
      next(new Unauthenticated('access tokens are not accepted in the URL; send Authorization: Bearer <token>'));
      return;
    }
    passport.authenticate('bearer', { session: false }, (err: unknown, access: AccessContext | false, info: unknown, status: unknown) => {
      if (err) return next(err);
      if (!access) {
        return next(new Unauthenticated(failureReason(req, info, status)));
      }
      req.user = access;
      next();
    })(req, res, next);
  };
}

/**
 * passport-http-bearer reports a failure as its challenge string (with our message as
 * error_description), or as 400 for a malformed Authorization header. null: no credentials at all.
 */
function failureReason(req: Request, info: unknown, status: unknown): string | null {
  if (typeof info === 'string') {
    const described = /error_description="([^"]*)"/.exec(info);
    if (described) return described[1];
  }
  const header = typeof req.headers.authorization === 'string' ? req.headers.authorization.trim() : '';
  if (status === 400) {
    const elsewhere = typeof req.body === 'object' && req.body !== null && 'access_token' in req.body;
    if (elsewhere && /^Bearer\s+\S+$/i.test(header)) return 'the access token was sent more than once';
    if (/^Bearer(\s|$)/i.test(header)) return 'the Authorization header is malformed (expected: Bearer <token>)';
  }
  if (header !== '') return 'the Authorization header is not a Bearer token';
  return status === 400 ? 'the access token was sent more than once' : null;
}

/** The access context authenticate() put on the request. */
export function accessOf(req: Request): AccessContext {
  if (!req.user) throw new Error('route reached without authentication');
  return req.user as AccessContext;
}
