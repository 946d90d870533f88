import { Column, Entity, Index, JoinColumn, OneToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Assessment } from './assessment';
import { decimal } from './transformers';

/** The speech pipeline's voice biomarkers for one assessment. */
@Entity({ name: 'speech_results' })
@Index('idx_speech_results_quality', ['audioQualityScore'])
export class SpeechResult {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'speech_results_pkey' })
  id: string;

  // UNIQUE (speech_results_assessment_id_key) comes with the one-to-one join column below.
  @Column({ name: 'assessment_id', type: 'uuid' })
  assessmentId: string;

  @Column({ name: 'duration_seconds', type: 'decimal', precision: 6, scale: 2, nullable: true, transformer: decimal })
  durationSeconds: number | null;

  @Column({ name: 'sample_rate', type: 'int', nullable: true })
  sampleRate: number | null;

  @Column({ name: 'audio_quality_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  audioQualityScore: number | null;

  @Column({ name: 'jitter', type: 'decimal', precision: 8, scale: 6, nullable: true, transformer: decimal })
  jitter: number | null;

  @Column({ name: 'shimmer', type: 'decimal', precision: 8, scale: 6, nullable: true, transformer: decimal })
  shimmer: number | null;

  /** Harmonics-to-noise ratio, dB. */
  @Column({ name: 'hnr', type: 'decimal', precision: 6, scale: 2, nullable: true, transformer: decimal })
  hnr: number | null;

  /** Cepstral peak prominence (smoothed), dB. */
  @Column({ name: 'cpps', type: 'decimal', precision: 6, scale: 2, nullable: true, transformer: decimal })
  cpps: number | null;

  @Column({ name: 'speech_rate', type: 'decimal', precision: 5, scale: 2, nullable: true, transformer: decimal })
  speechRate: number | null;

  @Column({ name: 'pause_ratio', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  pauseRatio: number | null;

  @Column({ name: 'voice_tremor', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  voiceTremor: number | null;

  @Column({ name: 'articulation_clarity', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  articulationClarity: number | null;

  @Column({ name: 'prosody_variation', type: 'decimal', precision: 6, scale: 2, nullable: true, transformer: decimal })
  prosodyVariation: number | null;

  @Column({ name: 'fluency_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  fluencyScore: number | null;

  @Column({ name: 'parkinsons_probability', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  parkinsonsProbability: number | null;

  @Column({
    name: 'cognitive_decline_probability',
    type: 'decimal',
    precision: 4,
    scale: 3,
    nullable: true,
    transformer: decimal,
  })
  cognitiveDeclineProbability: number | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  @OneToOne(() => Assessment, (assessment) => assessment.speechResult, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'assessment_id', foreignKeyConstraintName: 'speech_results_assessment_id_fkey' })
  assessment?: Assessment;
}
