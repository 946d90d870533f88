import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Superseded versions of FHIR resources, written only by the record_version trigger (the application
 * role may read, never write). `projection` is the row of the resource's fhir_* view as it was; NULL for
 * a deletion tombstone. The current version of a resource is its live row, not a row here.
 */
@Entity({ name: 'resource_history' })
@Index('idx_resource_history_type_time', ['resourceType', 'lastUpdated'])
export class ResourceHistory {
  @PrimaryColumn({ name: 'resource_type', type: 'varchar', length: 40, primaryKeyConstraintName: 'resource_history_pkey' })
  resourceType: string;

  @PrimaryColumn({ name: 'resource_id', type: 'uuid', primaryKeyConstraintName: 'resource_history_pkey' })
  resourceId: string;

  @PrimaryColumn({ name: 'version_id', type: 'int', primaryKeyConstraintName: 'resource_history_pkey' })
  versionId: number;

  @Column({ name: 'last_updated', type: 'timestamptz' })
  lastUpdated: Date;

  @Column({ name: 'deleted', type: 'boolean' })
  deleted: boolean;

  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  organizationId: string | null;

  @Column({ name: 'patient_id', type: 'uuid', nullable: true })
  patientId: string | null;

  @Column({ name: 'projection', type: 'jsonb', nullable: true })
  projection: Record<string, unknown> | null;
}
