import type { AccessContext } from '../auth/access';

/** BALP's action letters: Create, Read, Update, Delete, Execute (searches, operations, logins). */
export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';

/** AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure, 12 major failure. */
export type AuditOutcome = 0 | 4 | 8 | 12;

/** What the request itself tells about who and where, whatever it asks for. */
export interface RequestInfo {
  /** The X-Request-Id, also in the request's JSON log line. */
  readonly requestId: string;
  readonly address: string | null;
  readonly userAgent: string | null;
}

/**
 * One interaction to audit: a whole request, or one entry of a Bundle. Built before authentication (so
 * a 401 is audited with what the request asked for), completed as the request goes on.
 */
export interface AuditScope {
  readonly request: RequestInfo;
  access: AccessContext | null;
  /** A token request names its client before (or without) an access context. */
  clientId?: string | null;
  /** 'rest' for FHIR interactions, 'login' for token requests. */
  readonly eventType: 'rest' | 'login';
  /** The restful-interaction code (read, search-type, create, transaction, batch ...) or 'login'. */
  subtype: string;
  readonly resourceType: string | null;
  /** The instance the interaction addresses, as the URL names it. */
  readonly id: string | null;
  readonly version: string | null;
  /** Searches and history: the path and parameters asked for (the query entity). */
  query: string | null;
  /** Patients the request asked about (a search's patient=), named even when nothing was found. */
  asked?: readonly string[];
  /** What the handler learnt: the resources and patients it touched. */
  facts?: AuditFacts;
  /** Settles when the handler has answered (or failed): a request whose client left early is recorded then. */
  settled?: Promise<unknown>;
  /** Set once the event is stored with the write it describes: nothing more to record. */
  recorded: boolean;
}

/** What an interaction touched, as its handler knows it. */
export interface AuditFacts {
  /** References (Type/id) read or written. */
  readonly entities?: readonly string[];
  /** The versions written or read, by reference. */
  readonly versions?: Readonly<Record<string, string>>;
  readonly patients?: readonly string[];
  readonly organizations?: readonly string[];
}

/** One audit_events row as the gateway writes it (the chain columns are the database's). */
export interface AuditRow {
  created_at: string;
  event_type: string;
  subtype: string;
  action: AuditAction;
  outcome: AuditOutcome;
  outcome_desc: string | null;
  request_id: string;
  actor_ip: string | null;
  user_agent: string | null;
  client_id: string | null;
  subject: string | null;
  fhir_user: string | null;
  user_id: string | null;
  organization_id: string | null;
  actor_type: string;
  source: string;
  resource_type: string | null;
  resource_id: string | null;
  query: string | null;
  entities: string[];
  patients: string[];
  organizations: string[];
  details: Record<string, unknown>;
  hipaa_relevant: boolean;
  phi_accessed: boolean;
}

/** One access_logs row: operations' view of load and errors. */
export interface AccessLogRow {
  user_id: string | null;
  endpoint: string;
  method: string;
  status_code: number;
  response_time_ms: number;
  ip_address: string | null;
  user_agent: string | null;
}
