import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The append-only audit trail (HIPAA; FHIR AuditEvent). user_id and organization_id are deliberately NOT
 * foreign keys, so there are no relations here: the log must keep the id of a user or organization that
 * is later deleted, and ON DELETE SET NULL/CASCADE would rewrite history. The application role may only
 * INSERT and SELECT; the assessment_audit_trigger writes rows too.
 */
@Entity({ name: 'audit_events' })
@Index('idx_audit_events_user', ['userId', 'createdAt'])
@Index('idx_audit_events_type', ['eventType', 'createdAt'])
@Index('idx_audit_events_resource', ['resourceType', 'resourceId'])
@Index('idx_audit_events_hipaa', ['hipaaRelevant'], { where: 'hipaa_relevant = TRUE' })
@Index('idx_audit_events_created', ['createdAt'])
@Index('idx_audit_events_org', ['organizationId', 'createdAt'])
export class AuditEvent {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'audit_events_pkey' })
  id: string;

  /** The acting user, if any; no foreign key (see above). */
  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId: string | null;

  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  organizationId: string | null;

  /** user | system | api | admin; the trigger writes 'system' when no user is set. */
  @Column({ name: 'actor_type', type: 'varchar', length: 50 })
  actorType: string;

  @Column({ name: 'actor_ip', type: 'inet', nullable: true })
  actorIp: string | null;

  @Column({ name: 'event_type', type: 'varchar', length: 100 })
  eventType: string;

  @Column({ name: 'resource_type', type: 'varchar', length: 50, nullable: true })
  resourceType: string | null;

  @Column({ name: 'resource_id', type: 'uuid', nullable: true })
  resourceId: string | null;

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

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;
}
