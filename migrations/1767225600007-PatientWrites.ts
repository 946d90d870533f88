import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What hospital writes need from the schema:
 * - users.fhir_kept: the elements of a pushed Patient that no MediLens column holds (addresses, further
 *   names and telecoms, contacts ...), kept as sent so a read gives back what was written. It is part of
 *   the Patient projection, so a change to it is a new version and the history keeps it.
 * - A change to a profile column the Patient does not show (PHI such as medical_history, which field
 *   encryption rewrites on key rotation; age, timezone, consent) is not a new Patient version.
 * - Pushed identifiers follow their patient, however the patient changes: a soft delete frees them for a
 *   new registration, and a move to another organization takes them along (the unique key is per
 *   organization), whether the gateway or the MediLens backend makes the change.
 */
export class PatientWrites1767225600007 implements MigrationInterface {
  name = 'PatientWrites1767225600007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN fhir_kept JSONB`);
    // CREATE OR REPLACE may only add columns at the end; the options are restated because replacing resets them.
    await q.query(`CREATE OR REPLACE VIEW fhir_patient WITH (security_invoker = true) AS ${PATIENT_VIEW}, u.fhir_kept AS kept ${PATIENT_FROM}`);
    await q.query(`DROP TRIGGER user_profiles_bump_version ON user_profiles`);
    await q.query(`
      CREATE TRIGGER user_profiles_bump_version BEFORE INSERT OR DELETE ON user_profiles
        FOR EACH ROW EXECUTE FUNCTION bump_parent_version('users', 'user_id');
      CREATE TRIGGER user_profiles_bump_version_on_update BEFORE UPDATE ON user_profiles
        FOR EACH ROW WHEN ((OLD.user_id, OLD.language, OLD.ethnicity, OLD.fitzpatrick_type)
                           IS DISTINCT FROM (NEW.user_id, NEW.language, NEW.ethnicity, NEW.fitzpatrick_type))
        EXECUTE FUNCTION bump_parent_version('users', 'user_id');
    `);
    await q.query(`
      CREATE FUNCTION users_identifiers_follow() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
          DELETE FROM patient_identifiers WHERE user_id = NEW.id;
        ELSIF NEW.organization_id IS DISTINCT FROM OLD.organization_id THEN
          UPDATE patient_identifiers SET organization_id = NEW.organization_id WHERE user_id = NEW.id;
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER users_identifiers_follow AFTER UPDATE OF deleted_at, organization_id ON users
        FOR EACH ROW EXECUTE FUNCTION users_identifiers_follow();
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER users_identifiers_follow ON users`);
    await q.query(`DROP FUNCTION users_identifiers_follow()`);
    await q.query(`DROP TRIGGER user_profiles_bump_version_on_update ON user_profiles`);
    await q.query(`DROP TRIGGER user_profiles_bump_version ON user_profiles`);
    await q.query(`CREATE TRIGGER user_profiles_bump_version BEFORE INSERT OR UPDATE OR DELETE ON user_profiles
                     FOR EACH ROW EXECUTE FUNCTION bump_parent_version('users', 'user_id')`);
    await q.query(`DROP VIEW fhir_patient`);
    await q.query(`CREATE VIEW fhir_patient WITH (security_invoker = true) AS ${PATIENT_VIEW} ${PATIENT_FROM}`);
    await q.query(`GRANT SELECT ON fhir_patient TO medilens_app`);
    await q.query(`ALTER TABLE users DROP COLUMN fhir_kept`);
  }
}

// The ResourceVersions migration's fhir_patient, restated: migrations are frozen text.
const PATIENT_VIEW = `
    SELECT u.id, u.organization_id, u.id AS patient_id, u.version_id,
           COALESCE(u.version_at, u.created_at) AS last_updated, u.deleted_at,
           u.first_name, u.last_name, u.family_fold, u.given_fold, u.email, u.date_of_birth::text AS birth_date, u.gender, u.is_active,
           p.language, p.ethnicity, p.fitzpatrick_type,
           (SELECT jsonb_agg(jsonb_build_object('system', pi.system, 'value', pi.value) || COALESCE(pi.details, '{}'::jsonb)
                             ORDER BY pi.position, pi.system, pi.value)
              FROM patient_identifiers pi WHERE pi.user_id = u.id) AS identifiers`;
const PATIENT_FROM = `
      FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id
     WHERE EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name = 'patient')
        OR NOT EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id)`;
