import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Assessment } from './assessment';

/** One step of an assessment's pipeline run, in order of stage_index. */
@Entity({ name: 'pipeline_stages' })
@Index('idx_pipeline_stages_assessment', ['assessmentId', 'stageIndex'])
export class PipelineStage {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'pipeline_stages_pkey' })
  id: string;

  @Column({ name: 'assessment_id', type: 'uuid' })
  assessmentId: string;

  @Column({ name: 'stage_name', type: 'varchar', length: 100 })
  stageName: string;

  @Column({ name: 'stage_index', type: 'smallint' })
  stageIndex: number;

  @Column({ name: 'status', type: 'varchar', length: 20 })
  status: string;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt: Date | null;

  @Column({ name: 'duration_ms', type: 'int', nullable: true })
  durationMs: number | null;

  @Column({ name: 'error_code', type: 'varchar', length: 50, nullable: true })
  errorCode: string | null;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage: string | null;

  @Column({ name: 'metadata', type: 'jsonb', nullable: true, default: {} })
  metadata: Record<string, unknown> | null;

  @ManyToOne(() => Assessment, (assessment) => assessment.pipelineStages, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'assessment_id', foreignKeyConstraintName: 'pipeline_stages_assessment_id_fkey' })
  assessment?: Assessment;
}
