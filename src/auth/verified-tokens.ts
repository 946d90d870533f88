import type { AccessContext } from './access';

/**
 * Access contexts of the gateway's own tokens whose signature has already been checked, until they
 * expire. Verifying an ES256 signature was a tenth of a read's CPU; a token is presented many times in
 * its five minutes. Keyed by the whole token, so only that exact signed string hits. User tokens from
 * the external provider are not kept: their user may be deactivated at any moment.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, { access: AccessContext; expiresAt: number }>();

  constructor(private readonly capacity = 10_000) {}

  get(token: string, now = Date.now()): AccessContext | null {
    const entry = this.entries.get(token);
    if (!entry) return null;
    if (entry.expiresAt <= now) {
      this.entries.delete(token);
      return null;
    }
    return entry.access;
  }

  /** `exp` in seconds since the epoch, as in the token. */
  set(token: string, access: AccessContext, exp: number): void {
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { access, expiresAt: exp * 1000 });
  }
}
