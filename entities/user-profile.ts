import { Check, Column, Entity, JoinColumn, OneToOne, PrimaryGeneratedColumn } from 'typeorm';
import { User } from './user';

/** The clinical and preference side of a user, one row per user. */
@Entity({ name: 'user_profiles' })
@Check('user_profiles_age_check', '"age" >= 0 AND "age" <= 120')
@Check('user_profiles_fitzpatrick_type_check', '"fitzpatrick_type" BETWEEN 1 AND 6')
export class UserProfile {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'user_profiles_pkey' })
  id: string;

  // UNIQUE (user_profiles_user_id_key) comes with the one-to-one join column below.
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ name: 'age', type: 'int', nullable: true })
  age: number | null;

  @Column({ name: 'fitzpatrick_type', type: 'smallint', nullable: true })
  fitzpatrickType: number | null;

  @Column({ name: 'ethnicity', type: 'varchar', length: 100, nullable: true })
  ethnicity: string | null;

  // PHI, encrypted at field level (src/phi/): each holds an AES-256-GCM envelope {enc, kid, iv, ct, tag},
  // or legacy plaintext JSON until rotate-phi-key has run.
  @Column({ name: 'medical_history', type: 'jsonb', nullable: true, default: [] })
  medicalHistory: unknown;

  @Column({ name: 'medications', type: 'jsonb', nullable: true, default: [] })
  medications: unknown;

  @Column({ name: 'allergies', type: 'jsonb', nullable: true, default: [] })
  allergies: unknown;

  @Column({ name: 'language', type: 'varchar', length: 10, nullable: true, default: 'en' })
  language: string | null;

  @Column({ name: 'timezone', type: 'varchar', length: 50, nullable: true, default: 'UTC' })
  timezone: string | null;

  @Column({ name: 'consent_research', type: 'boolean', nullable: true, default: false })
  consentResearch: boolean | null;

  @Column({ name: 'consent_data_sharing', type: 'boolean', nullable: true, default: false })
  consentDataSharing: boolean | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  // Kept current by the touch_updated_at trigger, whoever writes the row.
  @Column({ name: 'updated_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  updatedAt: Date;

  @OneToOne(() => User, (user) => user.profile, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'user_profiles_user_id_fkey' })
  user?: User;
}
