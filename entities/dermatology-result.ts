import { Column, Entity, Index, JoinColumn, OneToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Assessment } from './assessment';
import { decimal } from './transformers';

/** The dermatology pipeline's lesion classification (ABCDE scores) for one assessment. */
@Entity({ name: 'dermatology_results' })
@Index('idx_dermatology_results_suspicion', ['melanomaSuspicion'])
export class DermatologyResult {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'dermatology_results_pkey' })
  id: string;

  // UNIQUE (dermatology_results_assessment_id_key) comes with the one-to-one join column below.
  @Column({ name: 'assessment_id', type: 'uuid' })
  assessmentId: string;

  @Column({ name: 'primary_classification', type: 'varchar', length: 100, nullable: true })
  primaryClassification: string | null;

  @Column({ name: 'melanoma_suspicion', type: 'varchar', length: 50, nullable: true })
  melanomaSuspicion: string | null;

  @Column({ name: 'asymmetry_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  asymmetryScore: number | null;

  @Column({ name: 'border_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  borderScore: number | null;

  @Column({ name: 'color_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  colorScore: number | null;

  @Column({ name: 'diameter_mm', type: 'decimal', precision: 5, scale: 2, nullable: true, transformer: decimal })
  diameterMm: number | null;

  @Column({ name: 'evolution_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  evolutionScore: number | null;

  @Column({ name: 'body_location', type: 'varchar', length: 50, nullable: true })
  bodyLocation: string | null;

  /** Fitzpatrick skin type 1..6 as assessed from the image; unlike user_profiles, no CHECK enforces the range. */
  @Column({ name: 'fitzpatrick_type', type: 'smallint', nullable: true })
  fitzpatrickType: number | null;

  @Column({ name: 'image_quality', type: 'varchar', length: 20, nullable: true })
  imageQuality: string | null;

  @Column({ name: 'lesion_centered', type: 'boolean', nullable: true })
  lesionCentered: boolean | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  @OneToOne(() => Assessment, (assessment) => assessment.dermatologyResult, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'assessment_id', foreignKeyConstraintName: 'dermatology_results_assessment_id_fkey' })
  assessment?: Assessment;
}
