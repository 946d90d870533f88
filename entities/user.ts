import { Column, Entity, Index, JoinColumn, ManyToOne, OneToMany, OneToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { Assessment } from './assessment';
import { ChatThread } from './chat-thread';
import { Organization } from './organization';
import { UploadedFile } from './uploaded-file';
import { UserProfile } from './user-profile';
import { UserRole } from './user-role';
import { UserTrend } from './user-trend';

/** A person known to MediLens: patient, clinician, researcher or administrator (roles say which). */
@Entity({ name: 'users' })
@Unique('users_clerk_user_id_key', ['clerkUserId'])
@Unique('users_email_key', ['email'])
@Unique('users_username_key', ['username'])
@Index('idx_users_org', ['organizationId'], { where: 'deleted_at IS NULL' })
@Index('idx_users_active', ['isActive', 'deletedAt'], { where: 'deleted_at IS NULL' })
// Name search indexes use text_pattern_ops, which @Index cannot describe.
@Index('idx_users_family_fold', { synchronize: false })
@Index('idx_users_given_fold', { synchronize: false })
// Expression index on (COALESCE(version_at, created_at)) DESC for type history (ResourceVersions migration).
@Index('idx_users_last_updated', { synchronize: false })
export class User {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'users_pkey' })
  id: string;

  // Nullable (unlike the seed): hospital-registered patients have no Clerk account and often no email.
  @Column({ name: 'clerk_user_id', type: 'varchar', length: 255, nullable: true })
  clerkUserId: string | null;

  @Column({ name: 'email', type: 'varchar', length: 255, nullable: true })
  email: string | null;

  @Column({ name: 'email_verified', type: 'boolean', nullable: true, default: false })
  emailVerified: boolean | null;

  @Column({ name: 'username', type: 'varchar', length: 100, nullable: true })
  username: string | null;

  @Column({ name: 'first_name', type: 'varchar', length: 100, nullable: true })
  firstName: string | null;

  @Column({ name: 'last_name', type: 'varchar', length: 100, nullable: true })
  lastName: string | null;

  /** 'YYYY-MM-DD': a birth date has no time zone, and a Date would shift it across midnight. */
  @Column({ name: 'date_of_birth', type: 'date', nullable: true })
  dateOfBirth: string | null;

  @Column({ name: 'gender', type: 'varchar', length: 20, nullable: true })
  gender: string | null;

  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  organizationId: string | null;

  @Column({ name: 'is_active', type: 'boolean', nullable: true, default: true })
  isActive: boolean | null;

  @Column({ name: 'is_verified', type: 'boolean', nullable: true, default: false })
  isVerified: boolean | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  /** search_fold(last_name) / search_fold(first_name), kept by the users_fold_names trigger for name search. */
  @Column({ name: 'family_fold', type: 'text', nullable: true })
  familyFold: string | null;

  @Column({ name: 'given_fold', type: 'text', nullable: true })
  givenFold: string | null;

  /** Version of the FHIR resource this row is (kept by the record_version trigger). */
  @Column({ name: 'version_id', type: 'int', default: 1 })
  versionId: number;

  /** When the current version was recorded; NULL until the first change (lastUpdated is then created_at). */
  @Column({ name: 'version_at', type: 'timestamptz', nullable: true })
  versionAt: Date | null;

  // Kept current by the touch_updated_at trigger, whoever writes the row.
  @Column({ name: 'updated_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  updatedAt: Date;

  @Column({ name: 'last_login_at', type: 'timestamptz', nullable: true })
  lastLoginAt: Date | null;

  /** Elements of a hospital-pushed Patient that no column holds, kept as sent (PatientWrites migration). */
  @Column({ name: 'fhir_kept', type: 'jsonb', nullable: true })
  fhirKept: Record<string, unknown> | null;

  // A plain column, not @DeleteDateColumn: soft-deleted rows must stay loadable (FHIR answers 410 Gone for them).
  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt: Date | null;

  @ManyToOne(() => Organization, (organization) => organization.users, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'users_organization_id_fkey' })
  organization?: Organization | null;

  @OneToOne(() => UserProfile, (profile) => profile.user)
  profile?: UserProfile | null;

  @OneToMany(() => UserRole, (userRole) => userRole.user)
  userRoles?: UserRole[];

  @OneToMany(() => Assessment, (assessment) => assessment.user)
  assessments?: Assessment[];

  @OneToMany(() => ChatThread, (thread) => thread.user)
  chatThreads?: ChatThread[];

  @OneToMany(() => UploadedFile, (file) => file.user)
  uploadedFiles?: UploadedFile[];

  @OneToMany(() => UserTrend, (trend) => trend.user)
  trends?: UserTrend[];
}
