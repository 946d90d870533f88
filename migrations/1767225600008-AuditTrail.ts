import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit trail auditors can trust (BALP AuditEvents for every access):
 * - audit_events becomes range-partitioned by month on created_at, so a month older than the 7-year
 *   retention is detached and archived whole, without touching the rows that stay (or their hashes).
 * - Every event is a link of ONE hash chain: seq (1, 2, 3 ...), prev_hash and hash = SHA-256 of the
 *   previous hash and the event's canonical content. A BEFORE INSERT trigger links each new row under
 *   the row lock of the chain head (audit_chain), so concurrent writers (several gateways, the MediLens
 *   backend's own trigger) queue for the head for the rest of their transaction and the chain stays
 *   linear; a rolled-back event rolls its link back with it, so seq has no gaps.
 * - The canonical content is the row as JSONB without prev_hash and hash, nulls stripped, timestamps in
 *   UTC: jsonb's text form is deterministic, and stripping nulls lets a later migration add a nullable
 *   column without changing the hash of any earlier event.
 * - The application role may INSERT (not seq, prev_hash or hash) and SELECT; nothing else. The chain
 *   head is written only by the trigger, which runs as the owner (SECURITY DEFINER).
 * - BALP columns: subtype (restful interaction), outcome (0/4/8/12), request id, client, user (sub,
 *   fhirUser), source, query, the entities and patients touched, and the organizations whose auditors
 *   may read the event (the caller's and the data's).
 */
export class AuditTrail1767225600008 implements MigrationInterface {
  name = 'AuditTrail1767225600008';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE audit_events RENAME TO audit_events_unchained`);
    // Its rows are copied below: a non-superuser owner (Neon's) is held to the policies by FORCE, and
    // would copy none of them (then drop them all).
    await q.query(`ALTER TABLE audit_events_unchained DISABLE ROW LEVEL SECURITY`);
    for (const index of OLD_INDEXES) await q.query(`ALTER INDEX ${index} RENAME TO ${index}_unchained`);
    await q.query(`ALTER TABLE audit_events_unchained RENAME CONSTRAINT audit_events_pkey TO audit_events_unchained_pkey`);
    await q.query(`
      CREATE TABLE audit_events (
        id UUID NOT NULL DEFAULT gen_random_uuid(),
        created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        user_id UUID,
        organization_id UUID,
        actor_type VARCHAR(50) NOT NULL,
        actor_ip INET,
        event_type VARCHAR(100) NOT NULL,
        resource_type VARCHAR(50),
        resource_id UUID,
        action VARCHAR(50) NOT NULL,
        details JSONB DEFAULT '{}',
        hipaa_relevant BOOLEAN DEFAULT FALSE,
        phi_accessed BOOLEAN DEFAULT FALSE,
        session_id VARCHAR(255),
        user_agent TEXT,
        subtype VARCHAR(64),
        outcome SMALLINT NOT NULL DEFAULT 0,
        outcome_desc TEXT,
        request_id VARCHAR(128),
        client_id VARCHAR(255),
        subject TEXT,
        fhir_user TEXT,
        source VARCHAR(255),
        query TEXT,
        entities TEXT[] NOT NULL DEFAULT '{}',
        patients UUID[] NOT NULL DEFAULT '{}',
        organizations UUID[] NOT NULL DEFAULT '{}',
        seq BIGINT NOT NULL,
        prev_hash CHAR(64) NOT NULL,
        hash CHAR(64) NOT NULL,
        CONSTRAINT audit_events_pkey PRIMARY KEY (id, created_at),
        CONSTRAINT chk_audit_events_outcome CHECK (outcome IN (0, 4, 8, 12))
      ) PARTITION BY RANGE (created_at);
      CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;

      CREATE INDEX idx_audit_events_user ON audit_events(user_id, created_at DESC);
      CREATE INDEX idx_audit_events_type ON audit_events(event_type, created_at DESC);
      CREATE INDEX idx_audit_events_resource ON audit_events(resource_type, resource_id);
      CREATE INDEX idx_audit_events_hipaa ON audit_events(hipaa_relevant) WHERE hipaa_relevant = TRUE;
      CREATE INDEX idx_audit_events_created ON audit_events(created_at DESC);
      CREATE INDEX idx_audit_events_org ON audit_events(organization_id, created_at DESC);
      CREATE INDEX idx_audit_events_seq ON audit_events(seq);
      CREATE INDEX idx_audit_events_client ON audit_events(client_id, created_at DESC);
      -- Every index is paid by every event. None on id alone (the primary key leads with it), none on the
      -- arrays: a search's containment test is not leakproof, so under RLS it could not use one (patients
      -- are looked up through audit_event_patients).

      -- Which events name which patient: the auditor's main question (AuditEvent?patient=) as a btree
      -- lookup. Derived from audit_events.patients by a trigger; partitioned by the same months.
      CREATE TABLE audit_event_patients (
        patient_id UUID NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        event_id UUID NOT NULL,
        CONSTRAINT audit_event_patients_pkey PRIMARY KEY (patient_id, created_at, event_id)
      ) PARTITION BY RANGE (created_at);
      CREATE TABLE audit_event_patients_default PARTITION OF audit_event_patients DEFAULT;
      CREATE INDEX idx_audit_events_subject ON audit_events(subject, created_at DESC);

      CREATE FUNCTION audit_index_patients() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
      SET search_path = public, pg_temp AS $$
      BEGIN
        INSERT INTO audit_event_patients (patient_id, created_at, event_id)
        SELECT DISTINCT p, n.created_at, n.id FROM inserted n, unnest(n.patients) p WHERE p IS NOT NULL
        ON CONFLICT DO NOTHING;
        RETURN NULL;
      END $$;
      -- Once per statement (a flush inserts hundreds of events in one): a row trigger cost a call each.
      CREATE TRIGGER audit_events_index_patients AFTER INSERT ON audit_events REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION audit_index_patients();
      REVOKE EXECUTE ON FUNCTION audit_index_patients() FROM PUBLIC;

      CREATE TABLE audit_chain (
        id SMALLINT PRIMARY KEY CHECK (id = 1),
        seq BIGINT NOT NULL,
        hash CHAR(64) NOT NULL,
        prev CHAR(64)
      );
      INSERT INTO audit_chain (id, seq, hash) VALUES (1, 0, repeat('0', 64));
      -- One row updated by every event: room on its page for new versions (HOT updates, pruned in place)
      -- and a vacuum after a fixed number of dead versions rather than a fraction of one row.
      ALTER TABLE audit_chain SET (fillfactor = 10, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

      -- What an event's hash covers: the row without its hashes, nulls stripped, timestamps in UTC (the
      -- caller sets the zone: the trigger below by its SET clause, audit verify by SET LOCAL).
      CREATE FUNCTION audit_canonical(event JSONB) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
        SELECT jsonb_strip_nulls(event - 'prev_hash' - 'hash')::text
      $$;

      CREATE FUNCTION audit_chain_link() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
      SET search_path = public, pg_temp SET timezone = 'UTC' AS $$
      DECLARE
        event JSONB;
      BEGIN
        -- Only the owner can insert the hash columns (the application role has no privilege on them): a row
        -- that has them is copied with its link (the migration's own chaining), and audit verify checks it.
        IF NEW.hash IS NOT NULL THEN RETURN NEW; END IF;
        event := to_jsonb(NEW);
        -- One statement locks the head, advances it and hashes the event with its seq (SET sees the old
        -- values, so prev keeps the hash this event links to).
        UPDATE audit_chain
           SET prev = hash, seq = seq + 1,
               hash = encode(sha256(convert_to(hash || '|' || audit_canonical(jsonb_set(event, '{seq}', to_jsonb(seq + 1))), 'UTF8')), 'hex')
         WHERE id = 1
        RETURNING seq, prev, hash INTO NEW.seq, NEW.prev_hash, NEW.hash;
        RETURN NEW;
      END $$;
      CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_chain_link();
      REVOKE EXECUTE ON FUNCTION audit_chain_link() FROM PUBLIC;
    `);

    // Monthly partitions for both logs, made ahead of time (npm run cli -- partitions, and here).
    await q.query(`
      CREATE FUNCTION ensure_monthly_partitions(parent TEXT, first_month DATE, months INT) RETURNS INT
      LANGUAGE plpgsql AS $$
      DECLARE
        created INT := 0;
        month_start DATE;
        lower_bound TIMESTAMPTZ;
        upper_bound TIMESTAMPTZ;
        part TEXT;
        fallback TEXT := parent || '_default';
      BEGIN
        IF parent NOT IN ('access_logs', 'audit_events', 'audit_event_patients') THEN
          RAISE EXCEPTION 'no monthly partitions for %', parent;
        END IF;
        -- The patient index follows the events month by month (archived with them).
        IF parent = 'audit_events' THEN
          PERFORM ensure_monthly_partitions('audit_event_patients', first_month, months);
        END IF;
        IF months < 1 OR months > 240 THEN
          RAISE EXCEPTION 'months must be between 1 and 240, got %', months;
        END IF;
        FOR i IN 0 .. months - 1 LOOP
          month_start := (date_trunc('month', first_month) + make_interval(months => i))::date;
          part := parent || '_' || to_char(month_start, 'YYYY_MM');
          CONTINUE WHEN to_regclass(part) IS NOT NULL;
          lower_bound := month_start::timestamp AT TIME ZONE 'UTC';
          upper_bound := (month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC';
          -- Rows of this month that landed in the default partition move first (ATTACH refuses otherwise);
          -- audit rows keep seq and hashes (the chain trigger passes rows that carry them).
          EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', fallback);
          EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
          EXECUTE format(
            'WITH moved AS (DELETE FROM %I WHERE created_at >= $1 AND created_at < $2 RETURNING *)
             INSERT INTO %I SELECT * FROM moved', fallback, part) USING lower_bound, upper_bound;
          EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, part, lower_bound, upper_bound);
          created := created + 1;
        END LOOP;
        RETURN created;
      END $$;
      CREATE OR REPLACE FUNCTION ensure_access_log_partitions(first_month DATE, months INT) RETURNS INT
      LANGUAGE sql AS $$ SELECT ensure_monthly_partitions('access_logs', first_month, months) $$;
    `);
    // The earliest month any existing event needs, and three from now.
    await q.query(`
      SELECT ensure_monthly_partitions('audit_events', m, (EXTRACT(YEAR FROM age(date_trunc('month', current_date), m)) * 12
                                                          + EXTRACT(MONTH FROM age(date_trunc('month', current_date), m)))::int + 3)
        FROM (SELECT date_trunc('month', LEAST(COALESCE(min(created_at), now()), now()) AT TIME ZONE 'UTC')::date AS m FROM audit_events_unchained) first
    `);

    // Existing events join the chain in the order they were recorded. Not through the trigger: every link
    // it makes updates the one head row, and within one transaction each update walks the versions
    // before it (quadratic: 100,000 events took 9 minutes). Rows are numbered and copied with placeholder
    // hashes (the trigger passes rows that carry one), then hashed in order, then the head is set once.
    await q.query(`
      INSERT INTO audit_events (id, created_at, user_id, organization_id, actor_type, actor_ip, event_type, resource_type,
                                resource_id, action, details, hipaa_relevant, phi_accessed, session_id, user_agent,
                                patients, organizations, seq, prev_hash, hash)
      SELECT id, created_at, user_id, organization_id, actor_type, actor_ip, event_type, resource_type,
             resource_id, action, details, hipaa_relevant, phi_accessed, session_id, user_agent,
             CASE WHEN details->>'patient_id' ~* '^[0-9a-f-]{36}$' THEN ARRAY[(details->>'patient_id')::uuid] ELSE '{}' END,
             CASE WHEN organization_id IS NULL THEN '{}' ELSE ARRAY[organization_id] END,
             row_number() OVER (ORDER BY created_at, id), repeat('0', 64), repeat('0', 64)
        FROM audit_events_unchained
    `);
    await q.query(`SELECT set_config('TimeZone', 'UTC', true)`);
    await q.query(`
      DO $$
      DECLARE
        event RECORD;
        previous TEXT := repeat('0', 64);
        before TEXT;
        linked BIGINT := 0;
      BEGIN
        FOR event IN SELECT e.id, e.created_at, e.seq, audit_canonical(to_jsonb(e)) AS canonical FROM audit_events e ORDER BY e.seq LOOP
          before := previous;
          UPDATE audit_events SET prev_hash = previous,
                 hash = encode(sha256(convert_to(previous || '|' || event.canonical, 'UTF8')), 'hex')
           WHERE id = event.id AND created_at = event.created_at
          RETURNING hash INTO previous;
          linked := event.seq;
        END LOOP;
        UPDATE audit_chain SET seq = linked, hash = previous, prev = before WHERE id = 1;
      END $$;
    `);
    await q.query(`DROP TABLE audit_events_unchained`);

    // The MediLens backend's trigger names the patient and the organization, so auditors find its events too.
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
                                  action, details, hipaa_relevant, phi_accessed, patients, organizations)
        VALUES (actor, changed.organization_id, CASE WHEN actor IS NULL THEN 'system' ELSE 'user' END,
                'assessment_' || CASE verb WHEN 'create' THEN 'created' WHEN 'update' THEN 'updated' ELSE 'deleted' END,
                'assessment', changed.id, verb,
                jsonb_build_object('source', 'trigger', 'status', changed.status, 'patient_id', changed.user_id),
                true, true, ARRAY[changed.user_id], ARRAY[changed.organization_id]);
        RETURN NULL;
      END $$;
    `);
    // Deferred to the commit: an event links itself under the chain head's lock, held until the commit.
    // Fired mid-transaction, the backend's event held the head for the rest of an ingestion (biomarkers,
    // result rows, read-back) and every other writer of the trail waited for it.
    await q.query(`
      DROP TRIGGER assessment_audit_trigger ON assessments;
      CREATE CONSTRAINT TRIGGER assessment_audit_trigger AFTER INSERT OR UPDATE OR DELETE ON assessments
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION log_assessment_access();
    `);

    await q.query(`ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE audit_events FORCE ROW LEVEL SECURITY`);
    await q.query(`
      ALTER TABLE audit_event_patients ENABLE ROW LEVEL SECURITY;
      ALTER TABLE audit_event_patients FORCE ROW LEVEL SECURITY;
      CREATE POLICY audit_event_patients_read ON audit_event_patients FOR SELECT USING (app_is_operator());
      -- The index trigger writes as the owner, which FORCE holds to the policies too (a non-superuser owner,
      -- Neon's); the application role has no INSERT privilege on the table at all.
      CREATE POLICY audit_event_patients_index ON audit_event_patients FOR INSERT WITH CHECK (true);
      GRANT SELECT ON audit_event_patients TO medilens_app;
      CREATE POLICY audit_events_append ON audit_events FOR INSERT WITH CHECK (true);
      -- Operators (admins, system clients) read the events of their organization: the caller's or the data's.
      CREATE POLICY audit_events_read ON audit_events FOR SELECT
        USING (app_is_operator()
               AND (organizations @> ARRAY[NULLIF(current_setting('app.current_org_id', true), '')::uuid]
                    OR COALESCE(current_setting('app.all_orgs', true), '') = 'on'));
    `);
    await q.query(`GRANT SELECT ON audit_events TO medilens_app`);
    await q.query(`GRANT INSERT (${APP_COLUMNS.join(', ')}) ON audit_events TO medilens_app`);

    // AuditEvent, as the search layer reads it. action in BALP's letters: the seed's trigger writes verbs.
    await q.query(`
      CREATE VIEW fhir_audit_event WITH (security_invoker = true) AS
      SELECT e.id, e.organization_id, NULL::uuid AS patient_id, 1 AS version_id, e.created_at AS last_updated,
             NULL::timestamptz AS deleted_at, e.created_at AS recorded, e.seq, e.event_type, e.subtype,
             CASE e.action WHEN 'create' THEN 'C' WHEN 'read' THEN 'R' WHEN 'update' THEN 'U' WHEN 'delete' THEN 'D'
                           WHEN 'execute' THEN 'E' ELSE e.action END AS action_code,
             e.outcome, e.outcome_desc, e.request_id, e.client_id, e.subject, e.fhir_user, e.user_id, e.actor_type,
             host(e.actor_ip) AS address, e.user_agent, e.source, e.query, e.entities, e.patients, e.organizations,
             e.resource_type, e.resource_id, e.details
        FROM audit_events e;
      GRANT SELECT ON fhir_audit_event TO medilens_app;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP VIEW fhir_audit_event`);
    await q.query(`
      DROP TRIGGER assessment_audit_trigger ON assessments;
      CREATE TRIGGER assessment_audit_trigger AFTER INSERT OR UPDATE OR DELETE ON assessments
        FOR EACH ROW EXECUTE FUNCTION log_assessment_access();
    `);
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
    await q.query(`ALTER TABLE audit_events RENAME TO audit_events_chained`);
    // Free the name, or the restored table's primary key becomes audit_events_pkey1 and up() cannot rename it.
    await q.query(`ALTER TABLE audit_events_chained RENAME CONSTRAINT audit_events_pkey TO audit_events_chained_pkey`);
    await q.query(`ALTER TABLE audit_events_chained DISABLE ROW LEVEL SECURITY`);
    await q.query(`
      CREATE TABLE audit_events (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id UUID,
        organization_id UUID,
        actor_type VARCHAR(50) NOT NULL,
        actor_ip INET,
        event_type VARCHAR(100) NOT NULL,
        resource_type VARCHAR(50),
        resource_id UUID,
        action VARCHAR(50) NOT NULL,
        details JSONB DEFAULT '{}',
        hipaa_relevant BOOLEAN DEFAULT FALSE,
        phi_accessed BOOLEAN DEFAULT FALSE,
        session_id VARCHAR(255),
        user_agent TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
      );
      INSERT INTO audit_events (id, user_id, organization_id, actor_type, actor_ip, event_type, resource_type, resource_id,
                                action, details, hipaa_relevant, phi_accessed, session_id, user_agent, created_at)
      SELECT id, user_id, organization_id, actor_type, actor_ip, event_type, resource_type, resource_id,
             action, details, hipaa_relevant, phi_accessed, session_id, user_agent, created_at
        FROM audit_events_chained;
      DROP TABLE audit_events_chained;
      DROP TABLE audit_event_patients;
      DROP FUNCTION audit_index_patients();
      DROP FUNCTION audit_chain_link();
      DROP FUNCTION audit_canonical(JSONB);
      DROP TABLE audit_chain;
    `);
    for (const index of OLD_INDEXES) await q.query(`CREATE INDEX ${index} ON audit_events${OLD_INDEX_KEYS[index]}`);
    // The AccessLogPartitions migration's function, restated: migrations are frozen text.
    await q.query(`
      DROP FUNCTION ensure_access_log_partitions(DATE, INT);
      CREATE FUNCTION ensure_access_log_partitions(first_month DATE, months INT) RETURNS INT
      LANGUAGE plpgsql AS $$
      DECLARE
        created INT := 0;
        month_start DATE;
        lower_bound TIMESTAMPTZ;
        upper_bound TIMESTAMPTZ;
        part TEXT;
      BEGIN
        IF months < 1 OR months > 240 THEN
          RAISE EXCEPTION 'months must be between 1 and 240, got %', months;
        END IF;
        FOR i IN 0 .. months - 1 LOOP
          month_start := (date_trunc('month', first_month) + make_interval(months => i))::date;
          part := 'access_logs_' || to_char(month_start, 'YYYY_MM');
          CONTINUE WHEN to_regclass(part) IS NOT NULL;
          lower_bound := month_start::timestamp AT TIME ZONE 'UTC';
          upper_bound := (month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC';
          LOCK TABLE access_logs_default IN ACCESS EXCLUSIVE MODE;
          EXECUTE format('CREATE TABLE %I (LIKE access_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
          EXECUTE format(
            'WITH moved AS (DELETE FROM access_logs_default WHERE created_at >= $1 AND created_at < $2 RETURNING *)
             INSERT INTO %I SELECT * FROM moved', part) USING lower_bound, upper_bound;
          EXECUTE format('ALTER TABLE access_logs ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                         part, lower_bound, upper_bound);
          created := created + 1;
        END LOOP;
        RETURN created;
      END $$;
      DROP FUNCTION ensure_monthly_partitions(TEXT, DATE, INT);
    `);
    await q.query(`ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE audit_events FORCE ROW LEVEL SECURITY`);
    await q.query(`
      CREATE POLICY audit_events_append ON audit_events FOR INSERT WITH CHECK (true);
      CREATE POLICY audit_events_read ON audit_events FOR SELECT
        USING (app_is_operator()
               AND (organization_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid
                    OR COALESCE(current_setting('app.all_orgs', true), '') = 'on'));
      GRANT SELECT, INSERT ON audit_events TO medilens_app;
    `);
  }
}

/** What the application may write; the chain columns are the trigger's. */
const APP_COLUMNS = [
  'id', 'created_at', 'user_id', 'organization_id', 'actor_type', 'actor_ip', 'event_type', 'resource_type', 'resource_id',
  'action', 'details', 'hipaa_relevant', 'phi_accessed', 'session_id', 'user_agent', 'subtype', 'outcome', 'outcome_desc',
  'request_id', 'client_id', 'subject', 'fhir_user', 'source', 'query', 'entities', 'patients', 'organizations',
];

const OLD_INDEX_KEYS: Record<string, string> = {
  idx_audit_events_user: '(user_id, created_at DESC)',
  idx_audit_events_type: '(event_type, created_at DESC)',
  idx_audit_events_resource: '(resource_type, resource_id)',
  idx_audit_events_hipaa: '(hipaa_relevant) WHERE hipaa_relevant = TRUE',
  idx_audit_events_created: '(created_at DESC)',
  idx_audit_events_org: '(organization_id, created_at DESC)',
};
const OLD_INDEXES = Object.keys(OLD_INDEX_KEYS);

// The ResourceVersions migration's bookkeeping columns, restated: migrations are frozen text.
const BOOKKEEPING = `ARRAY['version_id', 'version_at', 'updated_at']`;
