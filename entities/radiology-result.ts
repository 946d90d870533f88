import { Column, Entity, Index, JoinColumn, OneToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Assessment } from './assessment';
import { decimal } from './transformers';

/** The radiology pipeline's classification of one image (chest X-ray and others) for one assessment. */
@Entity({ name: 'radiology_results' })
@Index('idx_radiology_results_modality', ['modalityType'])
@Index('idx_radiology_results_condition', ['primaryCondition'])
export class RadiologyResult {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'radiology_results_pkey' })
  id: string;

  // UNIQUE (radiology_results_assessment_id_key) comes with the one-to-one join column below.
  @Column({ name: 'assessment_id', type: 'uuid' })
  assessmentId: string;

  @Column({ name: 'modality_type', type: 'varchar', length: 50, nullable: true })
  modalityType: string | null;

  @Column({ name: 'primary_condition', type: 'varchar', length: 100, nullable: true })
  primaryCondition: string | null;

  /** A percentage, 0..100 (DECIMAL(5,2)), unlike the 0..1 probabilities of the other pipelines. */
  @Column({ name: 'primary_probability', type: 'decimal', precision: 5, scale: 2, nullable: true, transformer: decimal })
  primaryProbability: number | null;

  @Column({ name: 'primary_severity', type: 'varchar', length: 20, nullable: true })
  primarySeverity: string | null;

  /** Finding objects as the pipeline wrote them. */
  @Column({ name: 'findings', type: 'jsonb', nullable: true, default: [] })
  findings: unknown[] | null;

  @Column({ name: 'lungs_status', type: 'varchar', length: 20, nullable: true })
  lungsStatus: string | null;

  @Column({ name: 'heart_status', type: 'varchar', length: 20, nullable: true })
  heartStatus: string | null;

  @Column({ name: 'image_quality', type: 'varchar', length: 20, nullable: true })
  imageQuality: string | null;

  @Column({ name: 'quality_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  qualityScore: number | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  @OneToOne(() => Assessment, (assessment) => assessment.radiologyResult, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'assessment_id', foreignKeyConstraintName: 'radiology_results_assessment_id_fkey' })
  assessment?: Assessment;
}
