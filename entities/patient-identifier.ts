import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { Organization } from './organization';
import { User } from './user';

/**
 * An identifier a hospital pushed for a patient (an MRN: system + value). Unique per organization, so
 * two concurrent conditional creates with the same MRN cannot both insert. `details` keeps the rest of
 * the FHIR Identifier (use, type, period, assigner) as sent.
 */
@Entity({ name: 'patient_identifiers' })
@Unique('patient_identifiers_org_system_value_key', ['organizationId', 'system', 'value'])
@Index('idx_patient_identifiers_user', ['userId'])
@Index('idx_patient_identifiers_value', ['value', 'system'])
export class PatientIdentifier {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'patient_identifiers_pkey' })
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'patient_identifiers_user_id_fkey' })
  user?: User;

  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  organizationId: string | null;

  @ManyToOne(() => Organization, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'patient_identifiers_organization_id_fkey' })
  organization?: Organization;

  @Column({ name: 'system', type: 'varchar', length: 255 })
  system: string;

  @Column({ name: 'value', type: 'varchar', length: 255 })
  value: string;

  /** Order among the patient's identifiers, as pushed. */
  @Column({ name: 'position', type: 'smallint', default: 0 })
  position: number;

  @Column({ name: 'details', type: 'jsonb', nullable: true })
  details: Record<string, unknown> | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;
}
