import {
  Check,
  Column,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  OneToMany,
  OneToOne,
  PrimaryGeneratedColumn,
  Unique,
} from 'typeorm';
import { AiExplanation } from './ai-explanation';
import { BiomarkerValue } from './biomarker-value';
import { CardiologyResult } from './cardiology-result';
import { CognitiveResult } from './cognitive-result';
import { DermatologyResult } from './dermatology-result';
import { Organization } from './organization';
import { PipelineStage } from './pipeline-stage';
import { RadiologyResult } from './radiology-result';
import { RetinalResult } from './retinal-result';
import { SpeechResult } from './speech-result';
import { UploadedFile } from './uploaded-file';
import { User } from './user';
import { decimal } from './transformers';

/**
 * One run of one pipeline for one patient (a FHIR DiagnosticReport). Every insert, update and delete is
 * written to audit_events by the assessment_audit_trigger.
 *
 * Index column order and DESC cannot be expressed in @Index (TypeORM compares only names and columns);
 * the migration holds the real definitions, e.g. idx_assessments_user is (user_id, created_at DESC).
 */
@Entity({ name: 'assessments' })
@Unique('assessments_session_id_key', ['sessionId'])
@Check('assessments_risk_score_check', '"risk_score" >= 0 AND "risk_score" <= 100')
@Check('assessments_confidence_check', '"confidence" >= 0 AND "confidence" <= 1')
@Index('idx_assessments_user', ['userId', 'createdAt'], { where: 'deleted_at IS NULL' })
@Index('idx_assessments_pipeline', ['pipelineType', 'createdAt'], { where: 'deleted_at IS NULL' })
@Index('idx_assessments_review', ['requiresReview'], { where: 'requires_review = TRUE AND deleted_at IS NULL' })
@Index('idx_assessments_org', ['organizationId', 'createdAt'], { where: 'deleted_at IS NULL' })
@Index('idx_assessments_user_pipeline_date', ['userId', 'pipelineType', 'createdAt'], { where: 'deleted_at IS NULL' })
@Index('idx_assessments_high_risk', ['riskLevel', 'createdAt'], {
  where: "risk_level IN ('high', 'critical') AND deleted_at IS NULL",
})
// An expression index: its third key is ((created_at AT TIME ZONE 'UTC')::date), which @Index cannot
// describe. synchronize: false declares it as known and hands it to the migration.
@Index('idx_assessments_cohort_analysis', { synchronize: false })
// Expression index on (COALESCE(version_at, created_at)) DESC for type history (ResourceVersions migration).
@Index('idx_assessments_last_updated', { synchronize: false })
export class Assessment {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'assessments_pkey' })
  id: string;

  @Column({ name: 'session_id', type: 'varchar', length: 255 })
  sessionId: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  organizationId: string | null;

  /** retinal | speech | cardiology | radiology | dermatology | cognitive */
  @Column({ name: 'pipeline_type', type: 'varchar', length: 50 })
  pipelineType: string;

  @Column({ name: 'pipeline_version', type: 'varchar', length: 20, default: '1.0.0' })
  pipelineVersion: string;

  /** 0..100 */
  @Column({ name: 'risk_score', type: 'decimal', precision: 5, scale: 2, nullable: true, transformer: decimal })
  riskScore: number | null;

  @Column({ name: 'risk_level', type: 'varchar', length: 20, nullable: true })
  riskLevel: string | null;

  /** 0..1 */
  @Column({ name: 'confidence', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  confidence: number | null;

  @Column({ name: 'status', type: 'varchar', length: 20, nullable: true, default: 'pending' })
  status: string | null;

  @Column({ name: 'current_stage', type: 'varchar', length: 50, nullable: true })
  currentStage: string | null;

  @Column({ name: 'processing_time_ms', type: 'int', nullable: true })
  processingTimeMs: number | null;

  @Column({ name: 'quality_score', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  qualityScore: number | null;

  @Column({ name: 'requires_review', type: 'boolean', nullable: true, default: false })
  requiresReview: boolean | null;

  @Column({ name: 'review_reason', type: 'text', nullable: true })
  reviewReason: string | null;

  /** The pipeline's raw output, as the MediLens backend wrote it. */
  @Column({ name: 'results', type: 'jsonb', nullable: true })
  results: Record<string, unknown> | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  /** Version of the FHIR resource this row is (kept by the record_version trigger). */
  @Column({ name: 'version_id', type: 'int', default: 1 })
  versionId: number;

  /** When the current version was recorded; NULL until the first change (lastUpdated is then created_at). */
  @Column({ name: 'version_at', type: 'timestamptz', nullable: true })
  versionAt: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt: Date | null;

  // Kept current by the touch_updated_at trigger, whoever writes the row.
  @Column({ name: 'updated_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  updatedAt: Date;

  // A plain column, not @DeleteDateColumn: soft-deleted rows must stay loadable (FHIR answers 410 Gone for them).
  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt: Date | null;

  @ManyToOne(() => User, (user) => user.assessments, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'assessments_user_id_fkey' })
  user?: User;

  @ManyToOne(() => Organization, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'assessments_organization_id_fkey' })
  organization?: Organization | null;

  @OneToMany(() => PipelineStage, (stage) => stage.assessment)
  pipelineStages?: PipelineStage[];

  @OneToMany(() => BiomarkerValue, (value) => value.assessment)
  biomarkerValues?: BiomarkerValue[];

  @OneToMany(() => AiExplanation, (explanation) => explanation.assessment)
  aiExplanations?: AiExplanation[];

  @OneToMany(() => UploadedFile, (file) => file.assessment)
  uploadedFiles?: UploadedFile[];

  // At most one modality result per assessment, in the table of its pipeline_type.
  @OneToOne(() => RetinalResult, (result) => result.assessment)
  retinalResult?: RetinalResult | null;

  @OneToOne(() => SpeechResult, (result) => result.assessment)
  speechResult?: SpeechResult | null;

  @OneToOne(() => CardiologyResult, (result) => result.assessment)
  cardiologyResult?: CardiologyResult | null;

  @OneToOne(() => RadiologyResult, (result) => result.assessment)
  radiologyResult?: RadiologyResult | null;

  @OneToOne(() => DermatologyResult, (result) => result.assessment)
  dermatologyResult?: DermatologyResult | null;

  @OneToOne(() => CognitiveResult, (result) => result.assessment)
  cognitiveResult?: CognitiveResult | null;
}
