import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Assessment } from './assessment';
import { Organization } from './organization';
import { User } from './user';
import { decimal } from './transformers';

/** One measured biomarker of an assessment (a FHIR Observation). */
@Entity({ name: 'biomarker_values' })
@Check('biomarker_values_percentile_check', '"percentile" BETWEEN 0 AND 100')
@Index('idx_biomarker_values_assessment', ['assessmentId'])
@Index('idx_biomarker_values_name', ['biomarkerName', 'createdAt'])
@Index('idx_biomarker_values_category', ['biomarkerCategory'])
@Index('idx_biomarker_user_time_series', ['userId', 'biomarkerName', 'createdAt'])
@Index('idx_biomarker_values_org', ['organizationId', 'createdAt'])
// Expression index on (COALESCE(version_at, created_at)) DESC for type history (ResourceVersions migration).
@Index('idx_biomarker_values_last_updated', { synchronize: false })
export class BiomarkerValue {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'biomarker_values_pkey' })
  id: string;

  @Column({ name: 'assessment_id', type: 'uuid' })
  assessmentId: string;

  /**
   * Always the assessment's user_id: the biomarker_values_copy_owner trigger overwrites whatever a writer
   * supplies (and assessments_propagate_owner follows later changes), because the time-series index and
   * the tenant policies read this copy and must be able to trust it. Reload after saving to see it.
   */
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  /** Always the assessment's organization_id, copied by the same trigger for the same reason. */
  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  organizationId: string | null;

  @Column({ name: 'biomarker_name', type: 'varchar', length: 100 })
  biomarkerName: string;

  @Column({ name: 'biomarker_category', type: 'varchar', length: 50, nullable: true })
  biomarkerCategory: string | null;

  @Column({ name: 'value', type: 'decimal', precision: 12, scale: 6, transformer: decimal })
  value: number;

  @Column({ name: 'unit', type: 'varchar', length: 20, nullable: true })
  unit: string | null;

  @Column({ name: 'normal_range_min', type: 'decimal', precision: 12, scale: 6, nullable: true, transformer: decimal })
  normalRangeMin: number | null;

  @Column({ name: 'normal_range_max', type: 'decimal', precision: 12, scale: 6, nullable: true, transformer: decimal })
  normalRangeMax: number | null;

  @Column({ name: 'status', type: 'varchar', length: 20, nullable: true })
  status: string | null;

  @Column({ name: 'confidence', type: 'decimal', precision: 4, scale: 3, nullable: true, transformer: decimal })
  confidence: number | null;

  @Column({ name: 'percentile', type: 'smallint', nullable: true })
  percentile: number | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  /** Version of the FHIR resource this row is (kept by the record_version trigger). */
  @Column({ name: 'version_id', type: 'int', default: 1 })
  versionId: number;

  /** When the current version was recorded; NULL until the first change (lastUpdated is then created_at). */
  @Column({ name: 'version_at', type: 'timestamptz', nullable: true })
  versionAt: Date | null;

  @ManyToOne(() => Assessment, (assessment) => assessment.biomarkerValues, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'assessment_id', foreignKeyConstraintName: 'biomarker_values_assessment_id_fkey' })
  assessment?: Assessment;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'biomarker_values_user_id_fkey' })
  user?: User;

  @ManyToOne(() => Organization, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'biomarker_values_organization_id_fkey' })
  organization?: Organization | null;
}
