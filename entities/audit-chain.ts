import { Check, Column, Entity, PrimaryColumn } from 'typeorm';
import { bigint } from './transformers';

/**
 * The head of the audit hash chain: one row, the last event's seq and hash. Written only by the
 * audit_events_chain trigger under this row's lock, which is what keeps the chain linear when several
 * writers append at once. The application role has no privilege on it.
 */
@Entity({ name: 'audit_chain' })
@Check('audit_chain_id_check', '"id" = 1')
export class AuditChain {
  @PrimaryColumn({ name: 'id', type: 'smallint', primaryKeyConstraintName: 'audit_chain_pkey' })
  id: number;

  @Column({ name: 'seq', type: 'bigint', transformer: bigint })
  seq: number;

  @Column({ name: 'hash', type: 'char', length: 64 })
  hash: string;

  /** The last event's prev_hash (the trigger links in one UPDATE, whose SET sees only old values). */
  @Column({ name: 'prev', type: 'char', length: 64, nullable: true })
  prev: string | null;
}
