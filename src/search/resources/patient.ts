import { medilensSystems } from '../../../mappings/codes';
import { toPatient, type PatientRow } from '../../../mappings/patient';
import type { ResourceDefinition } from '../definition';
import { UUID } from '../../db/context';

/**
 * Patient <- users (+ user_profiles). A user is a Patient when they hold the patient role, or no role
 * at all (MediLens signs patients up without one); staff-only users are Practitioners, not Patients.
 */
export function patientDefinition(canonicalBase: string): ResourceDefinition<PatientRow> {
  const userIdSystem = medilensSystems({ canonicalBase }).userId;
  return {
    type: 'Patient',
    select: `u.id, u.first_name, u.last_name, u.email, u.date_of_birth::text AS birth_date, u.gender, u.organization_id,
             u.is_active, u.deleted_at, GREATEST(u.updated_at, p.updated_at) AS last_updated,
             p.language, p.ethnicity, p.fitzpatrick_type`,
    from: `users u LEFT JOIN user_profiles p ON p.user_id = u.id`,
    where: `(EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name = 'patient')
             OR NOT EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id))`,
    idColumn: 'u.id',
    organizationColumn: 'u.organization_id',
    patientColumn: 'u.id',
    deletedColumn: 'u.deleted_at',
    parameters: {
      _id: {
        type: 'token',
        description: 'Logical id of the Patient',
        where: (params, token) => (token.code !== null && token.system === undefined && UUID.test(token.code) ? `u.id = ${params.add(token.code)}` : 'FALSE'),
      },
      identifier: {
        type: 'token',
        description: `A patient identifier (the MediLens user id: ${userIdSystem}|<id>)`,
        where: (params, token) => {
          if (token.system !== undefined && token.system !== userIdSystem) return 'FALSE';
          if (token.code === null) return 'TRUE';
          return UUID.test(token.code) ? `u.id = ${params.add(token.code)}` : 'FALSE';
        },
      },
    },
    toResource: toPatient,
  };
}
