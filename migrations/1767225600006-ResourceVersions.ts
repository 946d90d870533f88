import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the FHIR layer reads: one view per resource type (the row its mapping takes), real version
 * history recorded by the database, pushed patient identifiers, accent-folded name search, and
 * row-level security policies that scale.
 *
 * Versions. The MediLens backend writes these tables directly, so versions are kept by triggers, not by
 * the gateway: every versioned table carries version_id (1 on insert) and version_at (NULL until the
 * first change; lastUpdated is COALESCE(version_at, created_at)). A change of content (bookkeeping
 * columns aside) archives the resource as it was, projected through its fhir_* view, into
 * resource_history and bumps version_id; a DELETE archives it plus a tombstone version. Rows a resource
 * is built from (a patient's profile and identifiers, a report's modality result and explanation, the
 * assessment behind an observation) bump their resource's version too, at most once per transaction:
 * a row written by the current transaction (xmin) is one version in the making, not a new one.
 *
 * Only superseded versions are stored; the current one is the live row.
 */
const VIEWS: Record<string, string> = {
  fhir_patient: `
    SELECT u.id, u.organization_id, u.id AS patient_id, u.version_id,
           COALESCE(u.version_at, u.created_at) AS last_updated, u.deleted_at,
           u.first_name, u.last_name, u.family_fold, u.given_fold, u.email, u.date_of_birth::text AS birth_date, u.gender, u.is_active,
           p.language, p.ethnicity, p.fitzpatrick_type,
           (SELECT jsonb_agg(jsonb_build_object('system', pi.system, 'value', pi.value) || COALESCE(pi.details, '{}'::jsonb)
                             ORDER BY pi.position, pi.system, pi.value)
              FROM patient_identifiers pi WHERE pi.user_id = u.id) AS identifiers
      FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id
     WHERE EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name = 'patient')
        OR NOT EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id)`,
  fhir_practitioner: `
    SELECT u.id, u.organization_id, u.id AS patient_id, u.version_id,
           COALESCE(u.version_at, u.created_at) AS last_updated, u.deleted_at,
           u.first_name, u.last_name, u.family_fold, u.given_fold, u.email, u.gender, u.is_active
      FROM users u
     WHERE EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name = 'clinician')`,
  fhir_observation: `
    SELECT bv.id, bv.organization_id, bv.user_id AS patient_id, bv.version_id,
           COALESCE(bv.version_at, bv.created_at) AS last_updated, a.deleted_at,
           bv.assessment_id, bv.biomarker_name, bv.biomarker_category, bv.value::float8 AS value, bv.unit,
           bv.normal_range_min::float8 AS normal_range_min, bv.normal_range_max::float8 AS normal_range_max,
           bv.status, bv.confidence::float8 AS confidence, bv.percentile::float8 AS percentile, bv.created_at,
           a.pipeline_type, a.status AS assessment_status, a.requires_review, a.created_at AS effective_at,
           m.id AS device_id
      FROM biomarker_values bv
      JOIN assessments a ON a.id = bv.assessment_id
      LEFT JOIN model_registry m ON m.pipeline_type = a.pipeline_type AND m.version = a.pipeline_version`,
  fhir_diagnostic_report: `
    SELECT a.id, a.organization_id, a.user_id AS patient_id, a.version_id,
           COALESCE(a.version_at, a.created_at) AS last_updated, a.deleted_at,
           a.session_id, a.pipeline_type, a.pipeline_version, a.status, a.requires_review, a.review_reason,
           a.risk_score::float8 AS risk_score, a.risk_level, a.confidence::float8 AS confidence,
           a.quality_score::float8 AS quality_score, a.processing_time_ms,
           a.created_at AS effective_at, a.completed_at AS issued, m.id AS device_id,
           (SELECT e.explanation_text FROM ai_explanations e WHERE e.assessment_id = a.id
             ORDER BY e.created_at DESC, e.id DESC LIMIT 1) AS conclusion,
           ARRAY(SELECT b.id FROM biomarker_values b WHERE b.assessment_id = a.id ORDER BY b.created_at, b.id) AS result_ids,
           (CASE a.pipeline_type
              WHEN 'retinal' THEN (SELECT to_jsonb(x) - 'heatmap_data' - 'vessel_segmentation' FROM retinal_results x WHERE x.assessment_id = a.id)
              WHEN 'speech' THEN (SELECT to_jsonb(x) FROM speech_results x WHERE x.assessment_id = a.id)
              WHEN 'cardiology' THEN (SELECT to_jsonb(x) FROM cardiology_results x WHERE x.assessment_id = a.id)
              WHEN 'radiology' THEN (SELECT to_jsonb(x) FROM radiology_results x WHERE x.assessment_id = a.id)
              WHEN 'dermatology' THEN (SELECT to_jsonb(x) FROM dermatology_results x WHERE x.assessment_id = a.id)
              WHEN 'cognitive' THEN (SELECT to_jsonb(x) FROM cognitive_results x WHERE x.assessment_id = a.id)
            END) - 'id' - 'assessment_id' - 'created_at' AS findings
      FROM assessments a
      LEFT JOIN model_registry m ON m.pipeline_type = a.pipeline_type AND m.version = a.pipeline_version`,
  // The AI provenance of a completed assessment: same id as its report (ids are per resource type).
  fhir_provenance: `
    SELECT a.id, a.organization_id, a.user_id AS patient_id, a.version_id,
           COALESCE(a.version_at, a.created_at) AS last_updated, a.deleted_at,
           COALESCE(a.completed_at, a.created_at) AS recorded, a.pipeline_type, a.pipeline_version, a.requires_review,
           m.id AS device_id, m.model_name,
           ARRAY(SELECT b.id FROM biomarker_values b WHERE b.assessment_id = a.id ORDER BY b.created_at, b.id) AS result_ids
      FROM assessments a
      LEFT JOIN model_registry m ON m.pipeline_type = a.pipeline_type AND m.version = a.pipeline_version
     WHERE a.status = 'completed'`,
  fhir_device: `
    SELECT m.id, NULL::uuid AS organization_id, NULL::uuid AS patient_id, m.version_id,
           COALESCE(m.version_at, m.created_at) AS last_updated, NULL::timestamptz AS deleted_at,
           m.pipeline_type, m.model_name, m.version, m.framework,
           m.accuracy::float8 AS accuracy, m.precision_score::float8 AS precision_score,
           m.recall_score::float8 AS recall_score, m.f1_score::float8 AS f1_score,
           m.is_active, m.deployed_at, m.deprecated_at
      FROM model_registry m`,
  fhir_organization: `
    SELECT o.id, o.id AS organization_id, NULL::uuid AS patient_id, o.version_id,
           COALESCE(o.version_at, o.created_at) AS last_updated, o.deleted_at,
           o.name, o.type, o.email, o.phone, o.address, o.is_active
      FROM organizations o`,
};

/** Versioned tables: the views their rows appear in, and columns whose change is not a new version. */
const VERSIONED: { table: string; views: string; ignored: string }[] = [
  { table: 'users', views: 'Patient=fhir_patient,Practitioner=fhir_practitioner', ignored: 'last_login_at,email_verified,is_verified,username,clerk_user_id' },
  { table: 'assessments', views: 'DiagnosticReport=fhir_diagnostic_report,Provenance=fhir_provenance', ignored: 'current_stage,results' },
  { table: 'biomarker_values', views: 'Observation=fhir_observation', ignored: '' },
  { table: 'model_registry', views: 'Device=fhir_device', ignored: 'config,model_path' },
  { table: 'organizations', views: 'Organization=fhir_organization', ignored: 'settings,subscription_tier' },
];

/** Rows a resource is built from: a change bumps the parent's version. */
const PARTS: { table: string; parent: string; column: string }[] = [
  { table: 'user_profiles', parent: 'users', column: 'user_id' },
  { table: 'patient_identifiers', parent: 'users', column: 'user_id' },
  { table: 'user_roles', parent: 'users', column: 'user_id' },
  { table: 'ai_explanations', parent: 'assessments', column: 'assessment_id' },
  ...['retinal', 'speech', 'cardiology', 'radiology', 'dermatology', 'cognitive'].map((m) => ({
    table: `${m}_results`,
    parent: 'assessments',
    column: 'assessment_id',
  })),
];

/** Accented Latin letters to their base letter, and upper to lower case (Latin, Greek, Cyrillic). */
const ACCENTED = 'ÀÁÂÃÄÅĀĂĄàáâãäåāăąÇĆĈĊČçćĉċčĎĐďđÈÉÊËĒĔĖĘĚèéêëēĕėęěĜĞĠĢĝğġģĤĦĥħÌÍÎÏĨĪĬĮİìíîïĩīĭįıĴĵĶķĹĻĽĿŁĺļľŀłÑŃŅŇñńņňÒÓÔÕÖØŌŎŐòóôõöøōŏőŔŖŘŕŗřŚŜŞŠśŝşšŢŤŦţťŧÙÚÛÜŨŪŬŮŰŲùúûüũūŭůűųŴŵÝŸŶýÿŷŹŻŽźżž';
const BASE = 'aaaaaaaaaaaaaaaaaaccccccccccddddeeeeeeeeeeeeeeeeeegggggggghhhhiiiiiiiiiiiiiiiiiijjkkllllllllllnnnnnnnnoooooooooooooooooorrrrrrssssssssttttttuuuuuuuuuuuuuuuuuuuuwwyyyyyyzzzzzz';
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String.fromCodePoint(from + i)).join('');
const UPPER = range(0x41, 0x5a) + range(0x391, 0x3a1) + range(0x3a3, 0x3a9) + range(0x410, 0x42f) + range(0x400, 0x40f);
const LOWER = range(0x61, 0x7a) + range(0x3b1, 0x3c1) + range(0x3c3, 0x3c9) + range(0x430, 0x44f) + range(0x450, 0x45f);
const FOLD_FROM = ACCENTED + UPPER;
const FOLD_TO = BASE + LOWER;

const BOOKKEEPING = `ARRAY['version_id', 'version_at', 'updated_at']`;

const OWNED_BY_USER = ['user_profiles', 'chat_threads', 'user_trends', 'uploaded_files', 'patient_identifiers'];
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

export class ResourceVersions1767225600006 implements MigrationInterface {
  name = 'ResourceVersions1767225600006';

  async up(q: QueryRunner): Promise<void> {
    for (const { table } of VERSIONED) {
      await q.query(`ALTER TABLE ${table} ADD COLUMN version_id INT NOT NULL DEFAULT 1, ADD COLUMN version_at TIMESTAMPTZ`);
    }

    // Identifiers hospitals push (MRNs). The unique key is what makes conditional create race-free.
    await q.query(`
      CREATE TABLE patient_identifiers (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        organization_id UUID REFERENCES organizations(id) ON DELETE CASCADE,
        system VARCHAR(255) NOT NULL,
        value VARCHAR(255) NOT NULL,
        position SMALLINT NOT NULL DEFAULT 0,
        details JSONB,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
        CONSTRAINT patient_identifiers_org_system_value_key UNIQUE NULLS NOT DISTINCT (organization_id, system, value)
      );
      CREATE INDEX idx_patient_identifiers_user ON patient_identifiers(user_id);
      CREATE INDEX idx_patient_identifiers_value ON patient_identifiers(value, system);

      CREATE TABLE resource_history (
        resource_type VARCHAR(40) NOT NULL,
        resource_id UUID NOT NULL,
        version_id INT NOT NULL,
        last_updated TIMESTAMPTZ NOT NULL,
        deleted BOOLEAN NOT NULL,
        organization_id UUID,
        patient_id UUID,
        projection JSONB,
        CONSTRAINT resource_history_pkey PRIMARY KEY (resource_type, resource_id, version_id)
      );
      CREATE INDEX idx_resource_history_type_time ON resource_history(resource_type, last_updated DESC);
    `);

    // Lower case without accents, by translate() alone: IMMUTABLE in truth (lower() depends on the
    // collation) and independent of the unaccent extension, which PGlite and Neon may lack. Folded
    // names are stored (kept by a trigger) because under row-level security only leakproof conditions
    // on plain columns can use an index, and search_fold() applied to a column is not one.
    await q.query(`
      CREATE FUNCTION search_fold(value TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT translate(value, '${FOLD_FROM}', '${FOLD_TO}')
      $$;
      ALTER TABLE users ADD COLUMN family_fold TEXT, ADD COLUMN given_fold TEXT;
      UPDATE users SET family_fold = search_fold(last_name), given_fold = search_fold(first_name);
      CREATE FUNCTION users_fold_names() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.family_fold := search_fold(NEW.last_name);
        NEW.given_fold := search_fold(NEW.first_name);
        RETURN NEW;
      END $$;
      CREATE TRIGGER users_fold_names BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION users_fold_names();
      -- Type history walks versions newest first: the current version's time, per versioned table.
      CREATE INDEX idx_users_last_updated ON users ((COALESCE(version_at, created_at)) DESC);
      CREATE INDEX idx_assessments_last_updated ON assessments ((COALESCE(version_at, created_at)) DESC);
      CREATE INDEX idx_biomarker_values_last_updated ON biomarker_values ((COALESCE(version_at, created_at)) DESC);
      CREATE INDEX idx_users_family_fold ON users (family_fold text_pattern_ops) WHERE deleted_at IS NULL;
      CREATE INDEX idx_users_given_fold ON users (given_fold text_pattern_ops) WHERE deleted_at IS NULL;
    `);

    for (const [name, body] of Object.entries(VIEWS)) {
      // security_invoker: the caller's row-level security applies through the view (PG 15+).
      await q.query(`CREATE VIEW ${name} WITH (security_invoker = true) AS ${body}`);
    }

    // SECURITY DEFINER: the archive is written by the database, never by the application role, which
    // may read history but not insert into it (so it cannot forge versions).
    await q.query(`
      CREATE FUNCTION archive_resource(spec TEXT, rid UUID, version INT, tombstone BOOLEAN) RETURNS void
      LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
      DECLARE
        part TEXT;
        rtype TEXT;
        projection JSONB;
      BEGIN
        FOREACH part IN ARRAY string_to_array(spec, ',') LOOP
          rtype := split_part(part, '=', 1);
          EXECUTE format('SELECT to_jsonb(v) FROM %I v WHERE v.id = $1', split_part(part, '=', 2)) INTO projection USING rid;
          CONTINUE WHEN projection IS NULL;
          INSERT INTO resource_history (resource_type, resource_id, version_id, last_updated, deleted, organization_id, patient_id, projection)
          VALUES (rtype, rid, version, (projection->>'last_updated')::timestamptz, projection->>'deleted_at' IS NOT NULL,
                  (projection->>'organization_id')::uuid, (projection->>'patient_id')::uuid, projection)
          ON CONFLICT DO NOTHING;
          IF tombstone THEN
            INSERT INTO resource_history (resource_type, resource_id, version_id, last_updated, deleted, organization_id, patient_id, projection)
            VALUES (rtype, rid, version + 1, clock_timestamp(), true,
                    (projection->>'organization_id')::uuid, (projection->>'patient_id')::uuid, NULL)
            ON CONFLICT DO NOTHING;
          END IF;
        END LOOP;
      END $$;

      -- TG_ARGV[0]: the views (Type=view,...); TG_ARGV[1]: columns whose change is not a new version.
      -- SECURITY DEFINER so that it may call archive_resource, which nobody else may execute.
      CREATE FUNCTION record_version() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
      DECLARE
        ignored TEXT[] := ARRAY['updated_at', 'version_id', 'version_at'] || string_to_array(NULLIF(TG_ARGV[1], ''), ',');
        written_now BOOLEAN;
      BEGIN
        IF TG_OP = 'DELETE' THEN
          PERFORM archive_resource(TG_ARGV[0], OLD.id, OLD.version_id, true);
          RETURN OLD;
        END IF;
        -- An explicit bump (a part of the resource changed) is a version even when no column of ours did.
        IF NEW.version_id = OLD.version_id AND (to_jsonb(NEW) - ignored) = (to_jsonb(OLD) - ignored) THEN
          NEW.version_at := OLD.version_at; -- the version columns are the database's, not the writer's
          RETURN NEW;
        END IF;
        -- A row this transaction already wrote is the version in the making: one transaction, one version.
        EXECUTE format('SELECT xmin = pg_current_xact_id()::xid FROM %I.%I WHERE id = $1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
          INTO written_now USING OLD.id;
        IF written_now THEN
          NEW.version_id := OLD.version_id;
          NEW.version_at := OLD.version_at;
          RETURN NEW;
        END IF;
        PERFORM archive_resource(TG_ARGV[0], OLD.id, OLD.version_id, false);
        NEW.version_id := OLD.version_id + 1;
        NEW.version_at := clock_timestamp();
        RETURN NEW;
      END $$;

      -- A new row is version 1, whatever the writer put in the version columns.
      CREATE FUNCTION version_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.version_id := 1;
        NEW.version_at := NULL;
        RETURN NEW;
      END $$;

      -- A deleted assessment takes its biomarkers with it (ON DELETE CASCADE), and by the time their own
      -- triggers run it is gone from fhir_observation: archive them, with tombstones, while it is still there.
      CREATE FUNCTION assessments_archive_observations() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
      BEGIN
        PERFORM archive_resource('Observation=fhir_observation', b.id, b.version_id, true)
           FROM biomarker_values b WHERE b.assessment_id = OLD.id;
        RETURN OLD;
      END $$;

      -- TG_ARGV[0]: parent table; TG_ARGV[1]: the column naming the parent row.
      CREATE FUNCTION bump_parent_version() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        parent UUID;
        written_now BOOLEAN;
        present BOOLEAN;
      BEGIN
        IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'updated_at') = (to_jsonb(OLD) - 'updated_at') THEN
          RETURN NEW;
        END IF;
        parent := (to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END) ->> TG_ARGV[1])::uuid;
        EXECUTE format('SELECT xmin = pg_current_xact_id()::xid FROM %I WHERE id = $1', TG_ARGV[0]) INTO written_now USING parent;
        IF written_now IS DISTINCT FROM false THEN
          IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
          RETURN NEW;
        END IF;
        -- BEFORE INSERT fires even for a row INSERT ... ON CONFLICT DO NOTHING will skip: no change then.
        IF TG_OP = 'INSERT' THEN
          EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I WHERE id = $1)', TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO present USING NEW.id;
          IF present THEN RETURN NEW; END IF;
        END IF;
        EXECUTE format('UPDATE %I SET version_id = version_id + 1 WHERE id = $1', TG_ARGV[0]) USING parent;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
      END $$;

      -- An observation shows its assessment's status, time and model: their change is a new version of each.
      CREATE FUNCTION assessments_bump_observations() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (OLD.status, OLD.requires_review, OLD.deleted_at, OLD.created_at, OLD.pipeline_type, OLD.pipeline_version)
           IS DISTINCT FROM (NEW.status, NEW.requires_review, NEW.deleted_at, NEW.created_at, NEW.pipeline_type, NEW.pipeline_version) THEN
          UPDATE biomarker_values SET version_id = version_id + 1
           WHERE assessment_id = OLD.id AND xmin <> pg_current_xact_id()::xid;
        END IF;
        RETURN NEW;
      END $$;

      -- Replaces the Triggers migration's version: a biomarker added to an existing report is also a new
      -- version of the report (its result list changed), unless the report is being written right now.
      CREATE OR REPLACE FUNCTION biomarker_values_copy_owner() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        owner_user UUID;
        owner_org UUID;
        written_now BOOLEAN;
      BEGIN
        SELECT a.user_id, a.organization_id, a.xmin = pg_current_xact_id()::xid INTO owner_user, owner_org, written_now
          FROM assessments a WHERE a.id = NEW.assessment_id;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'assessment % does not exist or is not visible', NEW.assessment_id
            USING ERRCODE = 'foreign_key_violation';
        END IF;
        NEW.user_id := owner_user;
        NEW.organization_id := owner_org;
        IF TG_OP = 'INSERT' AND NOT written_now AND NOT EXISTS (SELECT 1 FROM biomarker_values b WHERE b.id = NEW.id) THEN
          UPDATE assessments SET version_id = version_id + 1 WHERE id = NEW.assessment_id;
        END IF;
        RETURN NEW;
      END $$;
    `);
    // The seed's assessment audit trigger, unchanged except that a version bump alone (a part of the
    // report changed, audited where it changed) is not an assessment update of its own.
    await q.query(`
      CREATE OR REPLACE FUNCTION log_assessment_access() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        changed assessments%ROWTYPE;
        actor UUID := app_setting_uuid('app.current_user_id');
        verb TEXT := CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END;
      BEGIN
        IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - ${BOOKKEEPING}) = (to_jsonb(OLD) - ${BOOKKEEPING}) THEN
          RETURN NULL;
        END IF;
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
    `);
    for (const { table, views, ignored } of VERSIONED) {
      await q.query(`CREATE TRIGGER ${table}_record_version BEFORE UPDATE OR DELETE ON ${table}
                     FOR EACH ROW EXECUTE FUNCTION record_version('${views}', '${ignored}')`);
      await q.query(`CREATE TRIGGER ${table}_version_on_insert BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION version_on_insert()`);
    }
    for (const { table, parent, column } of PARTS) {
      await q.query(`CREATE TRIGGER ${table}_bump_version BEFORE INSERT OR UPDATE OR DELETE ON ${table}
                     FOR EACH ROW EXECUTE FUNCTION bump_parent_version('${parent}', '${column}')`);
    }
    await q.query(`
      CREATE TRIGGER biomarker_values_bump_version BEFORE DELETE ON biomarker_values
        FOR EACH ROW EXECUTE FUNCTION bump_parent_version('assessments', 'assessment_id');
      CREATE TRIGGER assessments_bump_observations BEFORE UPDATE ON assessments
        FOR EACH ROW EXECUTE FUNCTION assessments_bump_observations();
      CREATE TRIGGER assessments_archive_observations BEFORE DELETE ON assessments
        FOR EACH ROW EXECUTE FUNCTION assessments_archive_observations();
      -- Functions are executable by PUBLIC by default: the archive may be written only by the triggers.
      REVOKE EXECUTE ON FUNCTION archive_resource(TEXT, UUID, INT, BOOLEAN) FROM PUBLIC;
    `);

    // Row-level security. The EXISTS policies of the RowLevelSecurity migration were planned as a hashed
    // subplan over every visible parent row: a sequential scan of assessments for one report's modality
    // row. A plpgsql function is not inlined, so each check is one primary-key probe (under the parent's
    // own policy, as the caller).
    await q.query(`
      CREATE FUNCTION app_user_visible(uid UUID) RETURNS BOOLEAN LANGUAGE plpgsql STABLE AS $$
      BEGIN
        RETURN EXISTS (SELECT 1 FROM users u WHERE u.id = uid);
      END $$;
      CREATE FUNCTION app_assessment_visible(aid UUID) RETURNS BOOLEAN LANGUAGE plpgsql STABLE AS $$
      BEGIN
        RETURN EXISTS (SELECT 1 FROM assessments a WHERE a.id = aid);
      END $$;
      ALTER TABLE patient_identifiers ENABLE ROW LEVEL SECURITY;
      ALTER TABLE patient_identifiers FORCE ROW LEVEL SECURITY;
      ALTER TABLE resource_history ENABLE ROW LEVEL SECURITY;
      ALTER TABLE resource_history FORCE ROW LEVEL SECURITY;
      GRANT SELECT, INSERT, UPDATE, DELETE ON patient_identifiers TO medilens_app;
      GRANT SELECT ON resource_history TO medilens_app;
      GRANT SELECT ON ${Object.keys(VIEWS).join(', ')} TO medilens_app;
      CREATE POLICY resource_history_append ON resource_history FOR INSERT WITH CHECK (true);
      CREATE POLICY resource_history_read ON resource_history FOR SELECT USING (
        CASE resource_type
          WHEN 'Device' THEN true
          WHEN 'Organization' THEN organization_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid
                                   OR COALESCE(current_setting('app.all_orgs', true), '') = 'on'
          ELSE app_row_visible(organization_id, patient_id)
        END);
    `);
    for (const table of OWNED_BY_USER) {
      await q.query(`DROP POLICY IF EXISTS ${table}_visible ON ${table}`);
      await q.query(`CREATE POLICY ${table}_visible ON ${table} USING (app_user_visible(user_id))`);
    }
    for (const table of OWNED_BY_ASSESSMENT) {
      await q.query(`DROP POLICY ${table}_visible ON ${table}`);
      await q.query(`CREATE POLICY ${table}_visible ON ${table} USING (app_assessment_visible(assessment_id))`);
    }
    await q.query(`
      DROP POLICY user_roles_read ON user_roles;
      CREATE POLICY user_roles_read ON user_roles FOR SELECT USING (app_user_visible(user_id));
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of OWNED_BY_ASSESSMENT) {
      await q.query(`DROP POLICY ${table}_visible ON ${table}`);
      await q.query(`CREATE POLICY ${table}_visible ON ${table}
                     USING (EXISTS (SELECT 1 FROM assessments a WHERE a.id = ${table}.assessment_id))`);
    }
    for (const table of OWNED_BY_USER.filter((t) => t !== 'patient_identifiers')) {
      await q.query(`DROP POLICY ${table}_visible ON ${table}`);
      await q.query(`CREATE POLICY ${table}_visible ON ${table}
                     USING (EXISTS (SELECT 1 FROM users u WHERE u.id = ${table}.user_id))`);
    }
    await q.query(`
      DROP POLICY user_roles_read ON user_roles;
      CREATE POLICY user_roles_read ON user_roles FOR SELECT
        USING (EXISTS (SELECT 1 FROM users u WHERE u.id = user_roles.user_id));
      DROP TRIGGER assessments_bump_observations ON assessments;
      DROP TRIGGER assessments_archive_observations ON assessments;
      DROP TRIGGER biomarker_values_bump_version ON biomarker_values;
    `);
    for (const { table } of PARTS) await q.query(`DROP TRIGGER ${table}_bump_version ON ${table}`);
    for (const { table } of VERSIONED) {
      await q.query(`DROP TRIGGER ${table}_record_version ON ${table}`);
      await q.query(`DROP TRIGGER ${table}_version_on_insert ON ${table}`);
    }
    await q.query(`
      CREATE OR REPLACE FUNCTION biomarker_values_copy_owner() RETURNS trigger LANGUAGE plpgsql AS $$
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
      CREATE OR REPLACE FUNCTION log_assessment_access() RETURNS trigger LANGUAGE plpgsql AS $$
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
      DROP FUNCTION assessments_bump_observations();
      DROP FUNCTION assessments_archive_observations();
      DROP FUNCTION bump_parent_version();
      DROP FUNCTION record_version();
      DROP FUNCTION version_on_insert();
      DROP FUNCTION archive_resource(TEXT, UUID, INT, BOOLEAN);
    `);
    for (const name of Object.keys(VIEWS).reverse()) await q.query(`DROP VIEW ${name}`);
    await q.query(`
      DROP INDEX idx_users_last_updated;
      DROP INDEX idx_assessments_last_updated;
      DROP INDEX idx_biomarker_values_last_updated;
      DROP INDEX idx_users_family_fold;
      DROP INDEX idx_users_given_fold;
      DROP TRIGGER users_fold_names ON users;
      DROP FUNCTION users_fold_names();
      ALTER TABLE users DROP COLUMN family_fold, DROP COLUMN given_fold;
      DROP FUNCTION search_fold(TEXT);
      DROP TABLE resource_history;
      DROP TABLE patient_identifiers;
      DROP FUNCTION app_user_visible(UUID);
      DROP FUNCTION app_assessment_visible(UUID);
    `);
    for (const { table } of VERSIONED) await q.query(`ALTER TABLE ${table} DROP COLUMN version_id, DROP COLUMN version_at`);
  }
}
