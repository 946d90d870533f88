import type { EntityManager } from 'typeorm';
import { preparedQuery } from '../db/prepared';
import type { AccessLogRow, AuditRow } from './record';

/**
 * A batch of events in ONE statement, whatever its size: the rows travel as one JSON parameter. The
 * organizations whose auditors may read an event are completed here from the patients it names (their
 * organizations), so a platform-wide client's access to a hospital's patient shows in that hospital's
 * audit log; the lookup happens at flush time, off the response path.
 */
const INSERT_EVENTS = `
  INSERT INTO audit_events (created_at, event_type, subtype, action, outcome, outcome_desc, request_id, actor_ip, user_agent, client_id,
                            subject, fhir_user, user_id, organization_id, actor_type, source, resource_type, resource_id,
                            query, entities, patients, organizations, details, hipaa_relevant, phi_accessed)
  SELECT x.created_at, x.event_type, x.subtype, x.action, x.outcome, x.outcome_desc, x.request_id, x.actor_ip, x.user_agent, x.client_id,
         x.subject, x.fhir_user, x.user_id, x.organization_id, x.actor_type, x.source, x.resource_type, x.resource_id,
         x.query, x.entities, x.patients,
         ARRAY(SELECT DISTINCT o FROM unnest(x.organizations || ARRAY(SELECT u.organization_id FROM users u WHERE u.id = ANY(x.patients))) o
                WHERE o IS NOT NULL ORDER BY o),
         x.details, x.hipaa_relevant, x.phi_accessed
    FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (
           created_at TIMESTAMPTZ, event_type TEXT, subtype TEXT, action TEXT, outcome SMALLINT, outcome_desc TEXT, request_id TEXT, actor_ip INET,
           user_agent TEXT, client_id TEXT, subject TEXT, fhir_user TEXT, user_id UUID, organization_id UUID, actor_type TEXT,
           source TEXT, resource_type TEXT, resource_id UUID, query TEXT, entities TEXT[], patients UUID[], organizations UUID[],
           details JSONB, hipaa_relevant BOOLEAN, phi_accessed BOOLEAN)) WITH ORDINALITY AS x
   ORDER BY x.ordinality`;

// Both statements are named (parsed and planned once per connection, as the searches are): every flush,
// and every write's own event, would otherwise pay Postgres's parse and plan of them again.
export async function insertAuditRows(tx: EntityManager, rows: readonly AuditRow[]): Promise<void> {
  if (rows.length) await preparedQuery(tx, INSERT_EVENTS, [JSON.stringify(rows)]);
}

const INSERT_ACCESS_LOGS = `
  INSERT INTO access_logs (user_id, endpoint, method, status_code, response_time_ms, ip_address, user_agent)
  SELECT x.user_id, x.endpoint, x.method, x.status_code, x.response_time_ms, x.ip_address, x.user_agent
    FROM jsonb_to_recordset($1::jsonb) AS x(user_id UUID, endpoint TEXT, method TEXT, status_code SMALLINT,
                                            response_time_ms INT, ip_address INET, user_agent TEXT)`;

export async function insertAccessLogs(tx: EntityManager, rows: readonly AccessLogRow[]): Promise<void> {
  if (rows.length) await preparedQuery(tx, INSERT_ACCESS_LOGS, [JSON.stringify(rows)]);
}
