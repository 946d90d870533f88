import { Column, Entity, Index, JoinColumn, OneToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Assessment } from './assessment';
import { decimal } from './transformers';

/** The cognitive pipeline's domain scores (attention, memory ...) from a task battery, for one assessment. */
@Entity({ name: 'cognitive_results' })
@Index('idx_cognitive_results_risk', ['riskLevel'])
export class CognitiveResult {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'cognitive_results_pkey' })
  id: string;

  // UNIQUE (cognitive_results_assessment_id_key) comes with the one-to-one join column below.
  @Column({ name: 'assessment_id', type: 'uuid' })
  assessmentId: string;

  @Column({ name: 'overall_risk_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  overallRiskScore: number | null;

  @Column({ name: 'risk_level', type: 'varchar', length: 20, nullable: true })
  riskLevel: string | null;

  @Column({ name: 'confidence_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  confidenceScore: number | null;

  @Column({ name: 'attention_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  attentionScore: number | null;

  @Column({ name: 'memory_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  memoryScore: number | null;

  @Column({
    name: 'executive_function_score',
    type: 'decimal',
    precision: 4,
    scale: 3,
    nullable: true,
    transformer: decimal,
  })
  executiveFunctionScore: number | null;

  @Column({ name: 'processing_speed_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  processingSpeedScore: number | null;

  @Column({ name: 'tasks_completed', type: 'int', nullable: true })
  tasksCompleted: number | null;

  @Column({ name: 'valid_tasks', type: 'int', nullable: true })
  validTasks: number | null;

  @Column({ name: 'fatigue_index', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  fatigueIndex: number | null;

  @Column({ name: 'consistency_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  consistencyScore: number | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  @OneToOne(() => Assessment, (assessment) => assessment.cognitiveResult, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'assessment_id', foreignKeyConstraintName: 'cognitive_results_assessment_id_fkey' })
  assessment?: Assessment;
}
