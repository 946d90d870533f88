import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { User } from './user';
import { decimal } from './transformers';

/** A user's risk trend for one pipeline over one period, computed by the analytics jobs. */
@Entity({ name: 'user_trends' })
@Unique('user_trends_user_id_pipeline_type_period_end_key', ['userId', 'pipelineType', 'periodEnd'])
@Index('idx_user_trends_user', ['userId', 'periodEnd'])
export class UserTrend {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'user_trends_pkey' })
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ name: 'pipeline_type', type: 'varchar', length: 50 })
  pipelineType: string;

  /** 'YYYY-MM-DD' */
  @Column({ name: 'period_start', type: 'date' })
  periodStart: string;

  /** 'YYYY-MM-DD' */
  @Column({ name: 'period_end', type: 'date' })
  periodEnd: string;

  @Column({ name: 'assessment_count', type: 'int', nullable: true })
  assessmentCount: number | null;

  @Column({ name: 'avg_risk_score', type: 'decimal', precision: 5, scale: 2, nullable: true, transformer: decimal })
  avgRiskScore: number | null;

  /** improving | stable | worsening */
  @Column({ name: 'risk_trend', type: 'varchar', length: 20, nullable: true })
  riskTrend: string | null;

  /** Slope of a linear regression of the risk score over the period. */
  @Column({ name: 'slope', type: 'decimal', precision: 8, scale: 6, nullable: true, transformer: decimal })
  slope: number | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  @ManyToOne(() => User, (user) => user.trends, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'user_trends_user_id_fkey' })
  user?: User;
}
