import { Check, Column, Entity, Index, JoinColumn, OneToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Assessment } from './assessment';
import { decimal } from './transformers';

/** The cardiology (ECG) pipeline's rhythm, interval and heart-rate-variability findings for one assessment. */
@Entity({ name: 'cardiology_results' })
@Check('cardiology_results_heart_rate_bpm_check', '"heart_rate_bpm" BETWEEN 20 AND 300')
@Index('idx_cardiology_results_rhythm', ['rhythmClassification'])
@Index('idx_cardiology_results_arrhythmia', ['arrhythmiaDetected'], { where: 'arrhythmia_detected = TRUE' })
export class CardiologyResult {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'cardiology_results_pkey' })
  id: string;

  // UNIQUE (cardiology_results_assessment_id_key) comes with the one-to-one join column below.
  @Column({ name: 'assessment_id', type: 'uuid' })
  assessmentId: string;

  @Column({ name: 'rhythm_classification', type: 'varchar', length: 50, nullable: true })
  rhythmClassification: string | null;

  @Column({ name: 'heart_rate_bpm', type: 'smallint', nullable: true })
  heartRateBpm: number | null;

  @Column({ name: 'regularity', type: 'varchar', length: 20, nullable: true })
  regularity: string | null;

  @Column({ name: 'r_peaks_detected', type: 'int', nullable: true })
  rPeaksDetected: number | null;

  @Column({ name: 'rmssd_ms', type: 'decimal', precision: 8, scale: 2, nullable: true, transformer: decimal })
  rmssdMs: number | null;

  @Column({ name: 'sdnn_ms', type: 'decimal', precision: 8, scale: 2, nullable: true, transformer: decimal })
  sdnnMs: number | null;

  @Column({ name: 'pnn50_percent', type: 'decimal', precision: 5, scale: 2, nullable: true, transformer: decimal })
  pnn50Percent: number | null;

  @Column({ name: 'pr_interval_ms', type: 'smallint', nullable: true })
  prIntervalMs: number | null;

  @Column({ name: 'qrs_duration_ms', type: 'smallint', nullable: true })
  qrsDurationMs: number | null;

  @Column({ name: 'qt_interval_ms', type: 'smallint', nullable: true })
  qtIntervalMs: number | null;

  @Column({ name: 'qtc_ms', type: 'smallint', nullable: true })
  qtcMs: number | null;

  @Column({ name: 'arrhythmia_detected', type: 'boolean', nullable: true, default: false })
  arrhythmiaDetected: boolean | null;

  @Column({ name: 'arrhythmia_types', type: 'jsonb', nullable: true, default: [] })
  arrhythmiaTypes: unknown[] | null;

  @Column({ name: 'signal_quality_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  signalQualityScore: number | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  @OneToOne(() => Assessment, (assessment) => assessment.cardiologyResult, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'assessment_id', foreignKeyConstraintName: 'cardiology_results_assessment_id_fkey' })
  assessment?: Assessment;
}
