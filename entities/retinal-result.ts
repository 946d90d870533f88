import { Check, Column, Entity, Index, JoinColumn, OneToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Assessment } from './assessment';
import { decimal } from './transformers';

/** The retinal pipeline's findings for one assessment (diabetic retinopathy grading, DME, vessels). */
@Entity({ name: 'retinal_results' })
@Check('retinal_results_dr_grade_check', '"dr_grade" BETWEEN 0 AND 4')
@Index('idx_retinal_results_dr_grade', ['drGrade'])
@Index('idx_retinal_results_eye', ['eyeLaterality'])
export class RetinalResult {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'retinal_results_pkey' })
  id: string;

  // UNIQUE (retinal_results_assessment_id_key) comes with the one-to-one join column below.
  @Column({ name: 'assessment_id', type: 'uuid' })
  assessmentId: string;

  /** International DR severity scale, 0 (none) .. 4 (proliferative). */
  @Column({ name: 'dr_grade', type: 'smallint', nullable: true })
  drGrade: number | null;

  @Column({ name: 'dr_severity', type: 'varchar', length: 20, nullable: true })
  drSeverity: string | null;

  /** left | right | both */
  @Column({ name: 'eye_laterality', type: 'varchar', length: 10, nullable: true })
  eyeLaterality: string | null;

  @Column({ name: 'image_quality', type: 'varchar', length: 20, nullable: true })
  imageQuality: string | null;

  /** The 4-2-1 rule for severe NPDR; the next three columns are its parts. */
  @Column({ name: 'four_two_one_met', type: 'boolean', nullable: true, default: false })
  fourTwoOneMet: boolean | null;

  @Column({ name: 'hemorrhages_4_quadrants', type: 'boolean', nullable: true })
  hemorrhages4Quadrants: boolean | null;

  @Column({ name: 'venous_beading_2_quadrants', type: 'boolean', nullable: true })
  venousBeading2Quadrants: boolean | null;

  @Column({ name: 'irma_1_quadrant', type: 'boolean', nullable: true })
  irma1Quadrant: boolean | null;

  @Column({ name: 'dme_present', type: 'boolean', nullable: true })
  dmePresent: boolean | null;

  @Column({ name: 'dme_severity', type: 'varchar', length: 20, nullable: true })
  dmeSeverity: string | null;

  @Column({ name: 'vessel_density', type: 'decimal', precision: 5, scale: 4, nullable: true, transformer: decimal })
  vesselDensity: number | null;

  @Column({ name: 'av_ratio', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  avRatio: number | null;

  @Column({ name: 'tortuosity_index', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  tortuosityIndex: number | null;

  @Column({ name: 'hemorrhage_count', type: 'int', nullable: true })
  hemorrhageCount: number | null;

  @Column({ name: 'microaneurysm_count', type: 'int', nullable: true })
  microaneurysmCount: number | null;

  @Column({ name: 'exudate_area_percent', type: 'decimal', precision: 5, scale: 2, nullable: true, transformer: decimal })
  exudateAreaPercent: number | null;

  /** Base64 images or URLs, as the pipeline chose: any JSON value. */
  @Column({ name: 'heatmap_data', type: 'jsonb', nullable: true })
  heatmapData: unknown;

  @Column({ name: 'vessel_segmentation', type: 'jsonb', nullable: true })
  vesselSegmentation: unknown;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  @OneToOne(() => Assessment, (assessment) => assessment.retinalResult, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'assessment_id', foreignKeyConstraintName: 'retinal_results_assessment_id_fkey' })
  assessment?: Assessment;
}
