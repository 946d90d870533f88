import { Column, Entity, Index, OneToMany, PrimaryGeneratedColumn } from 'typeorm';
import { User } from './user';

/** A tenant: a hospital, clinic or research group. Row-level security isolates data per organization. */
@Entity({ name: 'organizations' })
@Index('idx_organizations_type', ['type'], { where: 'deleted_at IS NULL' })
export class Organization {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'organizations_pkey' })
  id: string;

  @Column({ name: 'name', type: 'varchar', length: 255 })
  name: string;

  @Column({ name: 'type', type: 'varchar', length: 50 })
  type: string;

  @Column({ name: 'email', type: 'varchar', length: 255, nullable: true })
  email: string | null;

  @Column({ name: 'phone', type: 'varchar', length: 50, nullable: true })
  phone: string | null;

  @Column({ name: 'address', type: 'jsonb', nullable: true })
  address: Record<string, unknown> | null;

  @Column({ name: 'settings', type: 'jsonb', nullable: true, default: {} })
  settings: Record<string, unknown> | null;

  @Column({ name: 'is_active', type: 'boolean', nullable: true, default: true })
  isActive: boolean | null;

  @Column({ name: 'subscription_tier', type: 'varchar', length: 50, nullable: true, default: 'free' })
  subscriptionTier: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  /** Version of the FHIR resource this row is (kept by the record_version trigger). */
  @Column({ name: 'version_id', type: 'int', default: 1 })
  versionId: number;

  /** When the current version was recorded; NULL until the first change (lastUpdated is then created_at). */
  @Column({ name: 'version_at', type: 'timestamptz', nullable: true })
  versionAt: Date | null;

  // Kept current by the touch_updated_at trigger, whoever writes the row.
  @Column({ name: 'updated_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  updatedAt: Date;

  // A plain column, not @DeleteDateColumn: soft-deleted rows must stay loadable (FHIR answers 410 Gone for them).
  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt: Date | null;

  @OneToMany(() => User, (user) => user.organization)
  users?: User[];
}
