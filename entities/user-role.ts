import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { Organization } from './organization';
import { Role } from './role';
import { User } from './user';

/** A role granted to a user, globally (organization null) or within one organization. */
@Entity({ name: 'user_roles' })
// The constraint is UNIQUE NULLS NOT DISTINCT, so a global grant (organization null) cannot be duplicated
// either; TypeORM has no option for NULLS NOT DISTINCT, the migration is authoritative.
@Unique('user_roles_user_id_role_id_organization_id_key', ['userId', 'roleId', 'organizationId'])
@Index('idx_user_roles_role', ['roleId'])
export class UserRole {
  @PrimaryGeneratedColumn('uuid', { name: 'id', primaryKeyConstraintName: 'user_roles_pkey' })
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ name: 'role_id', type: 'int' })
  roleId: number;

  @Column({ name: 'organization_id', type: 'uuid', nullable: true })
  organizationId: string | null;

  @Column({ name: 'granted_at', type: 'timestamptz', nullable: true, default: () => 'now()' })
  grantedAt: Date | null;

  /** The user who granted the role; null once that user is deleted (the grant itself stays). */
  @Column({ name: 'granted_by', type: 'uuid', nullable: true })
  grantedBy: string | null;

  @ManyToOne(() => User, (user) => user.userRoles, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'user_roles_user_id_fkey' })
  user?: User;

  @ManyToOne(() => Role, (role) => role.userRoles, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'role_id', foreignKeyConstraintName: 'user_roles_role_id_fkey' })
  role?: Role;

  @ManyToOne(() => Organization, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'user_roles_organization_id_fkey' })
  organization?: Organization | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'granted_by', foreignKeyConstraintName: 'user_roles_granted_by_fkey' })
  grantedByUser?: User | null;
}
