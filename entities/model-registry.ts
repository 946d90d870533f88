import { Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { decimal } from './transformers';

/**
 * A deployed pipeline model (FHIR Device in the AI Transparency IG). Assessments name it only by
 * (pipeline_type, pipeline_version) = (pipeline_type, version); there is no foreign key.
 */
@Entity({ name: 'model_registry' })
@Unique('model_registry_pipeline_type_version_key', ['pipelineType', 'version'])
@Index('idx_model_registry_pipeline', ['pipelineType', 'isActive'])
export class ModelRegistryEntry {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'model_registry_pkey' })
  id: string;

  @Column({ name: 'pipeline_type', type: 'varchar', length: 50 })
  pipelineType: string;

  @Column({ name: 'model_name', type: 'varchar', length: 100 })
  modelName: string;

  @Column({ name: 'version', type: 'varchar', length: 20 })
  version: string;

  @Column({ name: 'framework', type: 'varchar', length: 50, nullable: true })
  framework: string | null;

  @Column({ name: 'model_path', type: 'text', nullable: true })
  modelPath: string | null;

  @Column({ name: 'config', type: 'jsonb', nullable: true, default: {} })
  config: Record<string, unknown> | null;

  /** Fractions 0..1 (DECIMAL(5,4)). */
  @Column({ name: 'accuracy', type: 'decimal', precision: 5, scale: 4, nullable: true, transformer: decimal })
  accuracy: number | null;

  @Column({ name: 'precision_score', type: 'decimal', precision: 5, scale: 4, nullable: true, transformer: decimal })
  precisionScore: number | null;

  @Column({ name: 'recall_score', type: 'decimal', precision: 5, scale: 4, nullable: true, transformer: decimal })
  recallScore: number | null;

  @Column({ name: 'f1_score', type: 'decimal', precision: 5, scale: 4, nullable: true, transformer: decimal })
  f1Score: number | null;

  @Column({ name: 'is_active', type: 'boolean', nullable: true, default: false })
  isActive: boolean | null;

  @Column({ name: 'deployed_at', type: 'timestamptz', nullable: true })
  deployedAt: Date | null;

  @Column({ name: 'deprecated_at', type: 'timestamptz', nullable: true })
  deprecatedAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  /** Version of the FHIR resource this row is (kept by the record_version trigger). */
  @Column({ name: 'version_id', type: 'int', default: 1 })
  versionId: number;

  /** When the current version was recorded; NULL until the first change (lastUpdated is then created_at). */
  @Column({ name: 'version_at', type: 'timestamptz', nullable: true })
  versionAt: Date | null;
}
