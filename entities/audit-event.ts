import { Check, Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { bigint } from './transformers';

/**
 * The append-only audit trail (HIPAA; FHIR AuditEvent shaped per IHE BALP). user_id and organization_id
 * are deliberately NOT foreign keys, so there are no relations here: the log must keep the id of a user
 * or organization that is later deleted, and ON DELETE SET NULL/CASCADE would rewrite history.
 *
 * Range-partitioned by month on created_at (the AuditTrail migration; TypeORM cannot express it), hence
 * the primary key (id, created_at). Every row is a link of one hash chain: seq, prev_hash and hash are
 * set by the audit_events_chain trigger, never by a writer (the application role may INSERT the other
 * columns and SELECT; nothing else).
 */
@Entity({ name: 'audit_events' })
@Check('chk_audit_events_outcome', '"outcome" IN (0, 4, 8, 12)')
@Index('idx_audit_events_user', ['userId', 'createdAt'])
@Index('idx_audit_events_type', ['eventType', 'createdAt'])
@Index('idx_audit_events_resource', ['resourceType', 'resourceId'])
@Index('idx_audit_events_hipaa', ['hipaaRelevant'], { where: 'hipaa_relevant = TRUE' })
@Index('idx_audit_events_created', ['createdAt'])
@Index('idx_audit_events_org', ['organizationId', 'createdAt'])
@Index('idx_audit_events_seq', ['seq'])
@Index('idx_audit_events_client', ['clientId', 'createdAt'])
@Index('idx_audit_events_subject', ['subject', 'createdAt'])
export class AuditEvent {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'audit_events_pkey' })
  id: string;

  /** BALP's recorded; the partition key. */
  @PrimaryColumn({ name: 'created_at', type: 'timestamptz', default: () => 'clock_timestamp()', primaryKeyConstraintName: 'audit_events_pkey' })
  createdAt: Date;

  /** The acting user, if any; no foreign key (see above). */
  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId: string | null;

  /** The caller's organization (the data's, for the MediLens backend's trigger). */
  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  organizationId: string | null;

  /** user | system | api | admin; the trigger writes 'system' when no user is set. */
  @Column({ name: 'actor_type', type: 'varchar', length: 50 })
  actorType: string;

  @Column({ name: 'actor_ip', type: 'inet', nullable: true })
  actorIp: string | null;

  /** 'rest' (a FHIR interaction), 'login' (a token request), or the backend trigger's assessment_*. */
  @Column({ name: 'event_type', type: 'varchar', length: 100 })
  eventType: string;

  @Column({ name: 'resource_type', type: 'varchar', length: 50, nullable: true })
  resourceType: string | null;

  @Column({ name: 'resource_id', type: 'uuid', nullable: true })
  resourceId: string | null;

  /** BALP's C/R/U/D/E; the seed's trigger writes create/update/delete. */
  @Column({ name: 'action', type: 'varchar', length: 50 })
  action: string;

  @Column({ name: 'details', type: 'jsonb', nullable: true, default: {} })
  details: Record<string, unknown> | null;

  @Column({ name: 'hipaa_relevant', type: 'boolean', nullable: true, default: false })
  hipaaRelevant: boolean | null;

  @Column({ name: 'phi_accessed', type: 'boolean', nullable: true, default: false })
  phiAccessed: boolean | null;

  @Column({ name: 'session_id', type: 'varchar', length: 255, nullable: true })
  sessionId: string | null;

  @Column({ name: 'user_agent', type: 'text', nullable: true })
  userAgent: string | null;

  /** The restful-interaction code (read, search-type, create ...) or login. */
  @Column({ name: 'subtype', type: 'varchar', length: 64, nullable: true })
  subtype: string | null;

  /** AuditEvent.outcome: 0 success, 4 minor failure (refused, invalid), 8 serious (server error), 12 major. */
  @Column({ name: 'outcome', type: 'smallint', default: 0 })
  outcome: number;

  @Column({ name: 'outcome_desc', type: 'text', nullable: true })
  outcomeDesc: string | null;

  /** The X-Request-Id of the request, also in its JSON log line. */
  @Column({ name: 'request_id', type: 'varchar', length: 128, nullable: true })
  requestId: string | null;

  @Column({ name: 'client_id', type: 'varchar', length: 255, nullable: true })
  clientId: string | null;

  /** The token's sub. */
  @Column({ name: 'subject', type: 'text', nullable: true })
  subject: string | null;

  @Column({ name: 'fhir_user', type: 'text', nullable: true })
  fhirUser: string | null;

  /** The gateway instance that recorded the event; null for the MediLens backend's trigger. */
  @Column({ name: 'source', type: 'varchar', length: 255, nullable: true })
  source: string | null;

  /** A search's query (path and parameters), for BALP's query entity. */
  @Column({ name: 'query', type: 'text', nullable: true })
  query: string | null;

  /** References (Type/id) of the resources read or written. */
  @Column({ name: 'entities', type: 'text', array: true, default: () => "'{}'" })
  entities: string[];

  /** Every patient whose data the interaction touched. */
  @Column({ name: 'patients', type: 'uuid', array: true, default: () => "'{}'" })
  patients: string[];

  /** Whose auditors may read the event: the caller's organization and the data's. */
  @Column({ name: 'organizations', type: 'uuid', array: true, default: () => "'{}'" })
  organizations: string[];

  /** Position in the hash chain (1, 2, 3 ... without gaps). */
  @Column({ name: 'seq', type: 'bigint', transformer: bigint })
  seq: number;

  @Column({ name: 'prev_hash', type: 'char', length: 64 })
  prevHash: string;

  /** SHA-256 (hex) of prev_hash, '|' and the event's canonical content (audit_canonical). */
  @Column({ name: 'hash', type: 'char', length: 64 })
  hash: string;
}
