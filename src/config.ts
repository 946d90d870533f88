import os from 'node:os';
import path from 'node:path';
import { parsePhiKeys, PhiKeysError, type PhiKeyRing } from './phi/keyring';

export type DatabaseConfig =
  | { kind: 'embedded'; dataDir: string | null }
  | { kind: 'postgres'; url: string }
  | { kind: 'neon'; url: string; wsProxy: string | null };

export interface Config {
  port: number;
  host: string;
  /** Absolute base URL clients use to reach /fhir (links, Location headers, SMART discovery). */
  publicBaseUrl: string;
  /** Canonical base for MediLens CodeSystems and extensions: the one place a host is named. */
  canonicalBase: string;
  database: DatabaseConfig;
  dbPoolSize: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Create demo organization, patients and clinicians on first start of an empty embedded database. */
  demoData: boolean;
  shutdownTimeoutMs: number;
  /** An external identity provider whose user tokens the gateway accepts (null: only its own tokens). */
  externalAuth: ExternalAuthConfig | null;
  /** Largest request body accepted (413 beyond it). */
  maxBodyBytes: number;
  /**
   * The PHI key ring from PHI_KEYS, or null when it is not set: then resolvePhiKeys (src/phi/resolve.ts)
   * uses the embedded database's key file, and a server deployment refuses to start.
   */
  phiKeys: PhiKeyRing | null;
  /** The audit trail: on unless AUDIT=off (for measuring its cost only), and who records (AuditEvent.source). */
  audit: { enabled: boolean; source: string };
}

export interface ExternalAuthConfig {
  issuer: string;
  jwksUri: string;
  /** The aud the provider puts in tokens meant for this gateway. */
  audience: string;
}

/**
 * A start-up configuration problem; the message names the variable and what is expected. `got` is the
 * value as given, or `{ described }` when the value is secret and only a description may be shown.
 */
export class ConfigError extends Error {
  constructor(readonly variable: string, expected: string, got: string | undefined | { described: string }) {
    const shown = got === undefined ? 'nothing' : typeof got === 'string' ? JSON.stringify(got) : got.described;
    super(`${variable}: expected ${expected}, got ${shown}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function nonEmpty(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  }
  return Number(raw);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `one of ${allowed.join(', ')}`, raw);
  return raw as T;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, 'true or false', raw);
}

function httpUrl(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'an absolute http(s) URL', raw);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(name, 'an absolute http(s) URL', raw);
  return raw.replace(/\/+$/, '');
}

function databaseConfig(env: Env): DatabaseConfig {
  const url = nonEmpty(env, 'DATABASE_URL');
  const driver = oneOf(env, 'DATABASE_DRIVER', ['pg', 'neon'] as const, 'pg');
  if (url === undefined) {
    if (nonEmpty(env, 'DATABASE_DRIVER') !== undefined) {
      throw new ConfigError('DATABASE_URL', 'a postgres:// URL when DATABASE_DRIVER is set', undefined);
    }
    const dir = nonEmpty(env, 'DATA_DIR') ?? './data';
    return { kind: 'embedded', dataDir: dir === ':memory:' ? null : path.resolve(dir) };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('DATABASE_URL', 'a postgres://user@host:port/database URL', redactUrl(url));
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL', 'a postgres://user@host:port/database URL', redactUrl(url));
  }
  if (driver === 'neon') {
    // Only for a Neon-compatible WebSocket proxy in front of a plain server (local tests): host:port/path
    const wsProxy = nonEmpty(env, 'NEON_WS_PROXY') ?? null;
    if (wsProxy !== null && !/^[\w.-]+:\d+(\/[\w./-]*)?$/.test(wsProxy)) {
      throw new ConfigError('NEON_WS_PROXY', 'host:port[/path] of a WebSocket-to-TCP proxy', wsProxy);
    }
    return { kind: 'neon', url, wsProxy };
  }
  return { kind: 'postgres', url };
}

/** Never echo a password back in an error message. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'PORT', 8080, 0, 65535);
  const host = nonEmpty(env, 'HOST') ?? '0.0.0.0';
  const publicHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  const publicBaseUrl = httpUrl('PUBLIC_BASE_URL', nonEmpty(env, 'PUBLIC_BASE_URL') ?? `http://${publicHost}:${port}`);
  const canonicalBase = httpUrl('FHIR_CANONICAL_BASE', nonEmpty(env, 'FHIR_CANONICAL_BASE') ?? 'https://fhir.medilens.ai');
  const database = databaseConfig(env);
  return {
    port,
    host,
    publicBaseUrl,
    canonicalBase,
    database,
    dbPoolSize: integer(env, 'DB_POOL_SIZE', 10, 1, 200),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    demoData: boolean(env, 'DEMO_DATA', database.kind === 'embedded'),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10000, 0, 600000),
    externalAuth: externalAuthConfig(env, publicBaseUrl),
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 5 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    phiKeys: phiKeys(env),
    audit: {
      enabled: boolean(env, 'AUDIT', true),
      source: (nonEmpty(env, 'AUDIT_SOURCE') ?? `medilens-fhir-gateway@${os.hostname()}`).slice(0, 255),
    },
  };
}

function phiKeys(env: Env): PhiKeyRing | null {
  const raw = nonEmpty(env, 'PHI_KEYS');
  if (raw === undefined) return null;
  try {
    return parsePhiKeys(raw);
  } catch (err) {
    if (err instanceof PhiKeysError) throw new ConfigError('PHI_KEYS', err.expected, { described: err.got });
    throw err;
  }
}

function externalAuthConfig(env: Env, publicBaseUrl: string): ExternalAuthConfig | null {
  const issuer = nonEmpty(env, 'AUTH_EXTERNAL_ISSUER');
  const jwksUri = nonEmpty(env, 'AUTH_EXTERNAL_JWKS_URI');
  if (issuer === undefined && jwksUri === undefined) {
    if (nonEmpty(env, 'AUTH_AUDIENCE') !== undefined) {
      throw new ConfigError('AUTH_EXTERNAL_ISSUER', 'an issuer URL when AUTH_AUDIENCE is set', undefined);
    }
    return null;
  }
  if (issuer === undefined) throw new ConfigError('AUTH_EXTERNAL_ISSUER', 'an issuer URL when AUTH_EXTERNAL_JWKS_URI is set', undefined);
  if (jwksUri === undefined) throw new ConfigError('AUTH_EXTERNAL_JWKS_URI', 'the JWK Set URL of AUTH_EXTERNAL_ISSUER', undefined);
  // The issuer is compared as a string, exactly as the provider writes it (a trailing slash matters).
  if (!/^https?:\/\/\S+$/.test(issuer)) throw new ConfigError('AUTH_EXTERNAL_ISSUER', 'an absolute http(s) URL', issuer);
  return {
    issuer,
    jwksUri: httpUrl('AUTH_EXTERNAL_JWKS_URI', jwksUri),
    audience: nonEmpty(env, 'AUTH_AUDIENCE') ?? `${publicBaseUrl}/fhir`,
  };
}
