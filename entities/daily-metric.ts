import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { Organization } from './organization';
import { decimal } from './transformers';

/** Per-day, per-organization counters for dashboards; organization null is the platform-wide row. */
@Entity({ name: 'daily_metrics' })
// UNIQUE NULLS NOT DISTINCT, so there is exactly one platform-wide row a day; TypeORM cannot say
// NULLS NOT DISTINCT, the migration is authoritative.
@Unique('daily_metrics_metric_date_organization_id_key', ['metricDate', 'organizationId'])
@Index('idx_daily_metrics_date', ['metricDate'])
@Index('idx_daily_metrics_org', ['organizationId', 'metricDate'])
export class DailyMetric {
  @PrimaryGeneratedColumn('increment', { name: 'id', type: 'int', primaryKeyConstraintName: 'daily_metrics_pkey' })
  id: number;

  /** 'YYYY-MM-DD' */
  @Column({ name: 'metric_date', type: 'date' })
  metricDate: string;

  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  organizationId: string | null;

  @Column({ name: 'total_assessments', type: 'int', nullable: true, default: 0 })
  totalAssessments: number | null;

  @Column({ name: 'retinal_count', type: 'int', nullable: true, default: 0 })
  retinalCount: number | null;

  @Column({ name: 'speech_count', type: 'int', nullable: true, default: 0 })
  speechCount: number | null;

  @Column({ name: 'cardiology_count', type: 'int', nullable: true, default: 0 })
  cardiologyCount: number | null;

  @Column({ name: 'radiology_count', type: 'int', nullable: true, default: 0 })
  radiologyCount: number | null;

  @Column({ name: 'dermatology_count', type: 'int', nullable: true, default: 0 })
  dermatologyCount: number | null;

  @Column({ name: 'cognitive_count', type: 'int', nullable: true, default: 0 })
  cognitiveCount: number | null;

  @Column({ name: 'avg_processing_time_ms', type: 'int', nullable: true })
  avgProcessingTimeMs: number | null;

  @Column({ name: 'avg_confidence', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  avgConfidence: number | null;

  @Column({ name: 'avg_quality_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  avgQualityScore: number | null;

  @Column({ name: 'low_risk_count', type: 'int', nullable: true, default: 0 })
  lowRiskCount: number | null;

  @Column({ name: 'moderate_risk_count', type: 'int', nullable: true, default: 0 })
  moderateRiskCount: number | null;

  @Column({ name: 'high_risk_count', type: 'int', nullable: true, default: 0 })
  highRiskCount: number | null;

  @Column({ name: 'critical_risk_count', type: 'int', nullable: true, default: 0 })
  criticalRiskCount: number | null;

  @Column({ name: 'active_users', type: 'int', nullable: true, default: 0 })
  activeUsers: number | null;

  @Column({ name: 'new_users', type: 'int', nullable: true, default: 0 })
  newUsers: number | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  @ManyToOne(() => Organization, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'daily_metrics_organization_id_fkey' })
  organization?: Organization | null;
}
