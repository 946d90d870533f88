import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Row-level security (seed §8.1, corrected and extended to tenant isolation).
 *
 * Requests run as medilens_app (NOLOGIN, no BYPASSRLS) via SET LOCAL ROLE, and FORCE ROW LEVEL SECURITY
 * holds the table owner to the same policies, so the only way past them is a superuser. Policies read
 * the caller's identity from transaction-local settings through NULLIF(current_setting(x, true), ''):
 * a missing identity matches nothing instead of raising (the seed's casts raised).
 *
 * A row owned by patient P in organization O is visible when
 *   - app.patient_id is unset or equals P (SMART patient context confines everything to one compartment), and
 *   - P is the caller (app.current_user_id), or the caller is staff (clinician, admin, researcher, system)
 *     of O (app.current_org_id), or of every organization (app.all_orgs = 'on').
 * Tables without owner columns inherit visibility from their parent row through EXISTS, which is itself
 * filtered by the parent's policy.
 */
const OWNED_BY_USER = ['user_profiles', 'chat_threads', 'user_trends', 'uploaded_files'];
const OWNED_BY_ASSESSMENT = [
  'pipeline_stages',
  'retinal_results',
  'speech_results',
  'cardiology_results',
  'radiology_results',
  'dermatology_results',
  'cognitive_results',
  'ai_explanations',
];
const PATIENT_DATA = [
  'users',
  'assessments',
  'biomarker_values',
  'chat_messages',
  ...OWNED_BY_USER,
  ...OWNED_BY_ASSESSMENT,
];
const RLS_TABLES = [...PATIENT_DATA, 'organizations', 'user_roles', 'daily_metrics', 'audit_events'];

export class RowLevelSecurity1767225600004 implements MigrationInterface {
  name = 'RowLevelSecurity1767225600004';

  async up(q: QueryRunner): Promise<void> {
    // Roles are cluster-wide: several databases (and parallel test runs) may race to create it.
    await q.query(`
      DO $$
      BEGIN
        -- Look first: an owner without CREATEROLE may still use a role an administrator created.
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'medilens_app') THEN
          CREATE ROLE medilens_app NOLOGIN NOBYPASSRLS;
        END IF;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
      END $$;
    `);
    // A non-superuser owner (Neon's, for one) needs membership to SET ROLE.
    await q.query(`
      DO $$
      BEGIN
        IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
          EXECUTE format('GRANT medilens_app TO %I', current_user);
        END IF;
      EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'could not grant medilens_app to %: requests will fail to switch role', current_user;
      END $$;
    `);

    await q.query(`
      CREATE FUNCTION app_row_visible(row_org UUID, row_owner UUID) RETURNS BOOLEAN
      LANGUAGE sql STABLE AS $$
        SELECT (NULLIF(current_setting('app.patient_id', true), '') IS NULL
                OR row_owner = NULLIF(current_setting('app.patient_id', true), '')::uuid)
           AND (row_owner = NULLIF(current_setting('app.current_user_id', true), '')::uuid
                OR (COALESCE(current_setting('app.user_role', true), '') IN ('clinician', 'admin', 'researcher', 'system')
                    AND (row_org = NULLIF(current_setting('app.current_org_id', true), '')::uuid
                         OR COALESCE(current_setting('app.all_orgs', true), '') = 'on')))
      $$;

      CREATE FUNCTION app_is_operator() RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
        SELECT COALESCE(current_setting('app.user_role', true), '') IN ('admin', 'system')
      $$;
    `);

    await q.query(`GRANT USAGE ON SCHEMA public TO medilens_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${PATIENT_DATA.join(', ')} TO medilens_app`);
    await q.query(`GRANT SELECT ON organizations, roles, model_registry, user_roles, daily_metrics TO medilens_app`);
    await q.query(`GRANT INSERT, UPDATE, DELETE ON organizations, user_roles TO medilens_app`);
    // The audit trail is append-only for the application.
    await q.query(`GRANT SELECT, INSERT ON audit_events TO medilens_app`);
    await q.query(`GRANT INSERT ON access_logs TO medilens_app`);
    await q.query(`GRANT USAGE ON SEQUENCE access_logs_id_seq TO medilens_app`);

    for (const table of RLS_TABLES) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
    }

    await q.query(`
      CREATE POLICY users_visible ON users USING (app_row_visible(organization_id, id));
      CREATE POLICY assessments_visible ON assessments USING (app_row_visible(organization_id, user_id));
      CREATE POLICY biomarker_values_visible ON biomarker_values USING (app_row_visible(organization_id, user_id));
      CREATE POLICY chat_messages_visible ON chat_messages
        USING (EXISTS (SELECT 1 FROM chat_threads t WHERE t.id = chat_messages.thread_id));
    `);
    for (const table of OWNED_BY_USER) {
      await q.query(`CREATE POLICY ${table}_visible ON ${table}
                     USING (EXISTS (SELECT 1 FROM users u WHERE u.id = ${table}.user_id))`);
    }
    for (const table of OWNED_BY_ASSESSMENT) {
      await q.query(`CREATE POLICY ${table}_visible ON ${table}
                     USING (EXISTS (SELECT 1 FROM assessments a WHERE a.id = ${table}.assessment_id))`);
    }
    await q.query(`
      CREATE POLICY organizations_read ON organizations FOR SELECT
        USING (id = NULLIF(current_setting('app.current_org_id', true), '')::uuid
               OR COALESCE(current_setting('app.all_orgs', true), '') = 'on');
      CREATE POLICY organizations_write ON organizations FOR ALL
        USING (app_is_operator() AND COALESCE(current_setting('app.all_orgs', true), '') = 'on');

      CREATE POLICY user_roles_read ON user_roles FOR SELECT
        USING (EXISTS (SELECT 1 FROM users u WHERE u.id = user_roles.user_id));
      CREATE POLICY user_roles_write ON user_roles FOR ALL
        USING (app_is_operator() AND EXISTS (SELECT 1 FROM users u WHERE u.id = user_roles.user_id));

      -- Written by refresh-analytics as the platform itself.
      CREATE POLICY daily_metrics_write ON daily_metrics FOR ALL
        USING (app_is_operator() AND COALESCE(current_setting('app.all_orgs', true), '') = 'on');
      CREATE POLICY daily_metrics_read ON daily_metrics FOR SELECT
        USING (COALESCE(current_setting('app.user_role', true), '') IN ('clinician', 'admin', 'researcher', 'system')
               AND (organization_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid
                    OR COALESCE(current_setting('app.all_orgs', true), '') = 'on'));

      -- Anyone may append (the assessment trigger runs as the writer); only operators read, within their tenant.
      CREATE POLICY audit_events_append ON audit_events FOR INSERT WITH CHECK (true);
      CREATE POLICY audit_events_read ON audit_events FOR SELECT
        USING (app_is_operator()
               AND (organization_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid
                    OR COALESCE(current_setting('app.all_orgs', true), '') = 'on'));
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of RLS_TABLES) {
      await q.query(`ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`);
      const policies: { policyname: string }[] = await q.query(
        `SELECT policyname FROM pg_policies WHERE schemaname = current_schema() AND tablename = $1`,
        [table],
      );
      for (const { policyname } of policies) await q.query(`DROP POLICY "${policyname}" ON ${table}`);
    }
    await q.query(`DROP FUNCTION IF EXISTS app_row_visible(UUID, UUID)`);
    await q.query(`DROP FUNCTION IF EXISTS app_is_operator()`);
    await q.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM medilens_app`);
    await q.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM medilens_app`);
    await q.query(`REVOKE USAGE ON SCHEMA public FROM medilens_app`);
  }
}
