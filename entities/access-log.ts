import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigint } from './transformers';

/**
 * One HTTP request to the API. The table is range-partitioned by month on created_at (monthly partitions
 * from ensure_access_log_partitions(), a DEFAULT partition for the rest; see the AccessLogPartitions
 * migration), which TypeORM cannot express. A partitioned table's primary key must contain the partition
 * key, hence (id, created_at). The application role may only INSERT.
 */
@Entity({ name: 'access_logs' })
@Index('idx_access_logs_user', ['userId', 'createdAt'])
@Index('idx_access_logs_endpoint', ['endpoint'])
export class AccessLog {
  // BIGSERIAL: the highest-volume table; ids are only unique together with created_at. @PrimaryColumn with
  // generated rather than @PrimaryGeneratedColumn, whose options take no transformer (BIGINT needs one).
  @PrimaryColumn({
    name: 'id',
    type: 'bigint',
    generated: 'increment',
    transformer: bigint,
    primaryKeyConstraintName: 'access_logs_pkey',
  })
  id: number;

  @PrimaryColumn({
    name: 'created_at',
    type: 'timestamptz',
    default: () => 'now()',
    primaryKeyConstraintName: 'access_logs_pkey',
  })
  createdAt: Date;

  /** No foreign key: request logs outlive the users they name. */
  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId: string | null;

  @Column({ name: 'endpoint', type: 'varchar', length: 255 })
  endpoint: string;

  @Column({ name: 'method', type: 'varchar', length: 10 })
  method: string;

  @Column({ name: 'status_code', type: 'smallint', nullable: true })
  statusCode: number | null;

  @Column({ name: 'response_time_ms', type: 'int', nullable: true })
  responseTimeMs: number | null;

  @Column({ name: 'ip_address', type: 'inet', nullable: true })
  ipAddress: string | null;

  @Column({ name: 'user_agent', type: 'text', nullable: true })
  userAgent: string | null;
}
