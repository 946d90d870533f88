import type { IncomingHttpHeaders } from 'node:http';
import type { AccessContext } from '../auth/access';
import type { AuditFacts, AuditScope } from '../audit/record';
import type { AuditTrail } from '../audit/trail';
import type { AuthServices } from '../auth/services';
import type { Config } from '../config';
import type { Database } from '../db/datasource';
import type { FhirValidator } from '../validation/fhir-validator';

/** What a handler sees of a request: FHIR, not Express. */
export interface FhirRequest {
  readonly params: Readonly<Record<string, string>>;
  /** Every query parameter, repeated ones in order. */
  readonly query: Readonly<Record<string, readonly string[]>>;
  readonly headers: IncomingHttpHeaders;
  /** The caller's access context; null only on public routes. */
  readonly access: AccessContext | null;
  /** The parsed JSON body of a write; undefined when the request had none. */
  readonly body?: unknown;
  /** The interaction's audit: handlers that write store its event in their transaction. */
  readonly audit: AuditScope;
}

export interface FhirResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Default application/fhir+json. */
  readonly contentType?: string;
  /** What the interaction touched, for its AuditEvent. */
  readonly audit?: AuditFacts;
}

export interface FhirDeps {
  readonly config: Config;
  readonly db: Database;
  readonly auth: AuthServices;
  readonly validator: FhirValidator;
  readonly audit: AuditTrail;
}

export type Handler = (req: FhirRequest, deps: FhirDeps) => Promise<FhirResponse>;

/** restful-interaction codes (http://hl7.org/fhir/restful-interaction), as the CapabilityStatement and audit name them. */
export type RestInteraction =
  | 'read'
  | 'vread'
  | 'search-type'
  | 'history-instance'
  | 'history-type'
  | 'create'
  | 'update'
  | 'patch'
  | 'delete'
  | 'capabilities'
  | 'transaction'
  | 'batch';

/** One row of the interaction table. */
export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Express path under /fhir. */
  readonly path: string;
  readonly interaction: RestInteraction | 'smart-configuration';
  readonly resourceType?: string;
  /** Reachable without a token (metadata and SMART discovery only). */
  readonly public?: boolean;
  /** Takes its parameters from an application/x-www-form-urlencoded body too (POST _search). */
  readonly form?: boolean;
  /** Takes a JSON body: a resource (FHIR JSON) or a JSON Patch document. */
  readonly body?: 'resource' | 'json-patch';
  readonly handler: Handler;
}
