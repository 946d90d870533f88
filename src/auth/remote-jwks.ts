import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';

/**
 * Remote JWK Sets by URL, one fetcher per URL, kept for the app's lifetime: jose caches the keys and
 * refetches (at most every 30 s) when a token names a kid it has not seen, so key rotation works
 * without hammering the publisher.
 */
export class RemoteJwksCache {
  private readonly sets = new Map<string, JWTVerifyGetKey>();

  get(url: string): JWTVerifyGetKey {
    let set = this.sets.get(url);
    if (!set) {
      set = createRemoteJWKSet(new URL(url), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
      this.sets.set(url, set);
    }
    return set;
  }
}
