import type { Bundle, FhirResource, OperationOutcome } from 'fhir/r4';
import { createApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import type { Database } from '../../src/db/datasource';
import { createLogger } from '../../src/logging';
import { listen, type RunningServer } from '../../src/server';
import { assertion, type ClientKey } from './auth';

/**
 * Journeys drive a real, listening gateway the way an integrator does: through fhir-kit-client (ESM only,
 * so loaded with a real dynamic import) over HTTP, never through supertest.
 */

/** The part of fhir-kit-client's Client the journeys use. */
export interface FhirKitClient {
  bearerToken: string;
  smartAuthMetadata(): Promise<{ tokenUrl?: URL | string }>;
  search(args: { resourceType: string; searchParams?: Record<string, string | number | string[]> }): Promise<Bundle>;
  /** undefined (not a promise) when the bundle has no next link. */
  nextPage(args: { bundle: Bundle }): Promise<Bundle> | undefined;
  read(args: { resourceType: string; id: string }): Promise<FhirResource>;
  vread(args: { resourceType: string; id: string; version: string | number }): Promise<FhirResource>;
  request(url: string, opts?: { method?: string }): Promise<unknown>;
  create(args: { resourceType: string; body: FhirResource; options?: RequestOptions }): Promise<FhirResource>;
  update(args: { resourceType: string; id?: string; searchParams?: Record<string, string>; body: FhirResource; options?: RequestOptions }): Promise<FhirResource>;
  patch(args: { resourceType: string; id: string; jsonPatch: unknown[]; options?: RequestOptions }): Promise<FhirResource>;
  delete(args: { resourceType: string; id: string; options?: RequestOptions }): Promise<OperationOutcome>;
  transaction(args: { body: Bundle; options?: RequestOptions }): Promise<Bundle>;
  batch(args: { body: Bundle; options?: RequestOptions }): Promise<Bundle>;
}

export interface RequestOptions {
  headers?: Record<string, string>;
}

/** A fhir-kit-client Client on `fhirBase` (e.g. http://127.0.0.1:1234/fhir). */
export async function fhirKitClient(fhirBase: string): Promise<FhirKitClient> {
  const { Client } = (await import('fhir-kit-client')) as unknown as { Client: new (opts: { baseUrl: string }) => FhirKitClient };
  return new Client({ baseUrl: fhirBase });
}

export interface Gateway {
  server: RunningServer;
  /** http://127.0.0.1:<port>, the gateway's PUBLIC_BASE_URL. */
  baseUrl: string;
  fhirBase: string;
}

/** The gateway listening on an ephemeral port of 127.0.0.1, its public URL naming that port. */
export async function startGateway(db: Database, env: (baseUrl: string) => Record<string, string> = () => ({})): Promise<Gateway> {
  let baseUrl = '';
  const server = await listen(
    (port) => {
      baseUrl = `http://127.0.0.1:${port}`;
      return createApp({ config: loadConfig({ PORT: String(port), PUBLIC_BASE_URL: baseUrl, ...env(baseUrl) }), db, logger: createLogger('silent') });
    },
    0,
    '127.0.0.1',
  );
  return { server, baseUrl, fhirBase: `${baseUrl}/fhir` };
}

/** SMART Backend Services: a signed assertion for a client_credentials token at `tokenUrl`. */
export async function backendServiceToken(
  tokenUrl: string,
  clientId: string,
  key: ClientKey,
  scope: string,
): Promise<{ access_token: string; token_type: string; scope: string; expires_in: number }> {
  const res = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await assertion(clientId, key, { aud: tokenUrl }),
    }),
  });
  const body = (await res.json()) as { access_token: string; token_type: string; scope: string; expires_in: number };
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** The HTTP error of a fhir-kit-client call that must fail (null when it succeeded). */
export async function failure(call: Promise<unknown>): Promise<{ status: number; data: OperationOutcome } | null> {
  return call.then(
    () => null,
    (err: { response?: { status: number; data: OperationOutcome } }) => {
      if (!err.response) throw err;
      return err.response;
    },
  );
}

/** Every page of a search, following next links with client.nextPage; `between` runs after each page but the last. */
export async function walk(client: FhirKitClient, first: Bundle, between?: (page: Bundle, pageNumber: number) => Promise<void>): Promise<Bundle[]> {
  const pages: Bundle[] = [];
  let page: Bundle | undefined = first;
  while (page) {
    pages.push(page);
    const hasNext: boolean = page.link?.some((l) => l.relation === 'next') ?? false;
    if (hasNext && between) await between(page, pages.length);
    page = hasNext ? await client.nextPage({ bundle: page }) : undefined;
  }
  return pages;
}

/** The resources of a bundle with this search mode. */
export function resourcesOf<T extends FhirResource = FhirResource>(bundle: Bundle, mode: 'match' | 'include'): T[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode === mode).map((e) => e.resource as T);
}

/** The HTTP response behind a fhir-kit-client result (its RESPONSE_KEY property), for headers. */
export function responseOf(result: unknown): Response {
  const response = (result as Record<string, unknown>)['__response'];
  if (!(response instanceof Response)) throw new Error('not a fhir-kit-client result');
  return response;
}
