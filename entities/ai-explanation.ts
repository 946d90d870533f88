import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Assessment } from './assessment';

/** A generated plain-language explanation of an assessment; the latest is the report's conclusion. */
@Entity({ name: 'ai_explanations' })
@Index('idx_ai_explanations_assessment', ['assessmentId'])
export class AiExplanation {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'ai_explanations_pkey' })
  id: string;

  @Column({ name: 'assessment_id', type: 'uuid' })
  assessmentId: string;

  @Column({ name: 'explanation_text', type: 'text' })
  explanationText: string;

  @Column({ name: 'voice_generated', type: 'boolean', nullable: true, default: false })
  voiceGenerated: boolean | null;

  @Column({ name: 'voice_url', type: 'text', nullable: true })
  voiceUrl: string | null;

  @Column({ name: 'voice_duration_ms', type: 'int', nullable: true })
  voiceDurationMs: number | null;

  @Column({ name: 'model_used', type: 'varchar', length: 50, nullable: true })
  modelUsed: string | null;

  @Column({ name: 'tokens_used', type: 'int', nullable: true })
  tokensUsed: number | null;

  @Column({ name: 'generation_time_ms', type: 'int', nullable: true })
  generationTimeMs: number | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  @ManyToOne(() => Assessment, (assessment) => assessment.aiExplanations, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'assessment_id', foreignKeyConstraintName: 'ai_explanations_assessment_id_fkey' })
  assessment?: Assessment;
}
