import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Behaviour the database owns because the MediLens backend writes these tables directly, bypassing the
 * gateway: updated_at, the biomarker ownership copy, and the assessment audit trigger of seed §8.3.
 */
export class Triggers1767225600001 implements MigrationInterface {
  name = 'Triggers1767225600001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.updated_at := now();
        RETURN NEW;
      END $$;
    `);
    for (const table of ['organizations', 'users', 'user_profiles', 'assessments', 'chat_threads']) {
      await q.query(`CREATE TRIGGER ${table}_touch_updated_at BEFORE UPDATE ON ${table}
                     FOR EACH ROW EXECUTE FUNCTION touch_updated_at()`);
    }

    // The owner columns are always copied from the assessment, whatever the writer supplied, so the
    // time-series index and the tenant policies can trust them. SECURITY INVOKER on purpose: a writer
    // that cannot see the assessment (row-level security) cannot attach biomarkers to it.
    await q.query(`
      CREATE FUNCTION biomarker_values_copy_owner() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        owner_user UUID;
        owner_org UUID;
      BEGIN
        SELECT a.user_id, a.organization_id INTO owner_user, owner_org FROM assessments a WHERE a.id = NEW.assessment_id;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'assessment % does not exist or is not visible', NEW.assessment_id
            USING ERRCODE = 'foreign_key_violation';
        END IF;
        NEW.user_id := owner_user;
        NEW.organization_id := owner_org;
        RETURN NEW;
      END $$;

      CREATE TRIGGER biomarker_values_copy_owner
        BEFORE INSERT OR UPDATE OF assessment_id, user_id, organization_id ON biomarker_values
        FOR EACH ROW EXECUTE FUNCTION biomarker_values_copy_owner();

      CREATE FUNCTION assessments_propagate_owner() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE biomarker_values SET user_id = NEW.user_id, organization_id = NEW.organization_id
         WHERE assessment_id = NEW.id;
        RETURN NULL;
      END $$;

      CREATE TRIGGER assessments_propagate_owner
        AFTER UPDATE OF user_id, organization_id ON assessments
        FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.organization_id IS DISTINCT FROM NEW.organization_id)
        EXECUTE FUNCTION assessments_propagate_owner();
    `);

    // Seed §8.3, fixed: the seed cast current_setting('app.current_user_id') without missing_ok (an error
    // when no user is set), omitted the NOT NULL actor_type, and used NEW on DELETE (NULL there).
    await q.query(`
      CREATE FUNCTION app_setting_uuid(setting TEXT) RETURNS UUID LANGUAGE plpgsql STABLE AS $$
      DECLARE
        raw TEXT := NULLIF(current_setting(setting, true), '');
      BEGIN
        IF raw IS NULL OR raw !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
          RETURN NULL;
        END IF;
        RETURN raw::uuid;
      END $$;

      CREATE FUNCTION log_assessment_access() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        changed assessments%ROWTYPE;
        actor UUID := app_setting_uuid('app.current_user_id');
        verb TEXT := CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END;
      BEGIN
        IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
        INSERT INTO audit_events (user_id, organization_id, actor_type, event_type, resource_type, resource_id,
                                  action, details, hipaa_relevant, phi_accessed)
        VALUES (actor, changed.organization_id, CASE WHEN actor IS NULL THEN 'system' ELSE 'user' END,
                'assessment_' || CASE verb WHEN 'create' THEN 'created' WHEN 'update' THEN 'updated' ELSE 'deleted' END,
                'assessment', changed.id, verb,
                jsonb_build_object('source', 'trigger', 'status', changed.status, 'patient_id', changed.user_id),
                true, true);
        RETURN NULL;
      END $$;

      CREATE TRIGGER assessment_audit_trigger
        AFTER INSERT OR UPDATE OR DELETE ON assessments
        FOR EACH ROW EXECUTE FUNCTION log_assessment_access();
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TRIGGER IF EXISTS assessment_audit_trigger ON assessments;
      DROP FUNCTION IF EXISTS log_assessment_access();
      DROP FUNCTION IF EXISTS app_setting_uuid(TEXT);
      DROP TRIGGER IF EXISTS assessments_propagate_owner ON assessments;
      DROP FUNCTION IF EXISTS assessments_propagate_owner();
      DROP TRIGGER IF EXISTS biomarker_values_copy_owner ON biomarker_values;
      DROP FUNCTION IF EXISTS biomarker_values_copy_owner();
    `);
    for (const table of ['organizations', 'users', 'user_profiles', 'assessments', 'chat_threads']) {
      await q.query(`DROP TRIGGER IF EXISTS ${table}_touch_updated_at ON ${table}`);
    }
    await q.query(`DROP FUNCTION IF EXISTS touch_updated_at()`);
  }
}
