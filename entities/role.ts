import { Column, Entity, OneToMany, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { UserRole } from './user-role';

/** A named set of permissions (patient, clinician, admin, researcher ...). */
@Entity({ name: 'roles' })
@Unique('roles_name_key', ['name'])
export class Role {
  // SERIAL, unlike the UUID keys elsewhere: user_roles.role_id is an INT.
  @PrimaryGeneratedColumn('increment', { name: 'id', type: 'int', primaryKeyConstraintName: 'roles_pkey' })
  id: number;

  @Column({ name: 'name', type: 'varchar', length: 50 })
  name: string;

  @Column({ name: 'description', type: 'text', nullable: true })
  description: string | null;

  /** Permission names, e.g. "view_own_assessments". */
  @Column({ name: 'permissions', type: 'jsonb', nullable: true, default: [] })
  permissions: string[] | null;

  @Column({ name: 'created_at', type: 'timestamptz', nullable: false, default: () => 'now()' })
  createdAt: Date;

  @OneToMany(() => UserRole, (userRole) => userRole.role)
  userRoles?: UserRole[];
}
