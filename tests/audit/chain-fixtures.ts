import type { DataSource } from 'typeorm';
import { eventHash } from '../../src/audit/verify';
import { withDbContext, type DbIdentity } from '../../src/db/context';

/** The gateway's own identity for audit writes: the platform, every organization. */
export const SYSTEM: DbIdentity = { role: 'system', allOrganizations: true };

/**
 * Events appended as the application role in ONE multi-row INSERT, in the order given; each carries
 * `marker` and its index in details. createdAt (ISO) pins the recorded time; otherwise the default.
 */
export async function appendEvents(ds: DataSource, marker: string, count: number, createdAt?: string): Promise<void> {
  await withDbContext(ds, SYSTEM, (tx) =>
    tx.query(
      `INSERT INTO audit_events (actor_type, event_type, subtype, action, details, entities, created_at)
       SELECT 'system', 'rest', 'read', 'R', jsonb_build_object('marker', $1::text, 'n', i), ARRAY['Patient/' || i],
              COALESCE($3::timestamptz, clock_timestamp())
         FROM generate_series(1, $2::int) i ORDER BY i`,
      [marker, count, createdAt ?? null],
    ),
  );
}

export interface StoredEvent {
  seq: number;
  id: string;
  createdAt: Date;
  prevHash: string;
  hash: string;
  part: string;
}

/** Every event in seq order, as the (superuser) test connection sees it. */
export async function storedEvents(ds: DataSource): Promise<StoredEvent[]> {
  const rows = await ds.query(
    `SELECT seq::int AS seq, id, created_at, prev_hash, hash, tableoid::regclass::text AS part FROM audit_events ORDER BY seq, id`,
  );
  return rows.map((r: Record<string, never>) => ({
    seq: r.seq,
    id: r.id,
    createdAt: r.created_at,
    prevHash: r.prev_hash,
    hash: r.hash,
    part: r.part,
  }));
}

export async function chainHead(ds: DataSource): Promise<{ seq: number; hash: string }> {
  const [row] = await ds.query(`SELECT seq::int AS seq, hash FROM audit_chain WHERE id = 1`);
  return row;
}

/**
 * The forger who knows the scheme: edits an event's content and re-hashes it, so that the event is
 * self-consistent again (only its successor's link, or the chain head, can tell).
 */
export async function forgeEvent(ds: DataSource, seq: number): Promise<void> {
  await ds.transaction(async (tx) => {
    await tx.query(`SELECT set_config('TimeZone', 'UTC', true)`);
    await tx.query(`UPDATE audit_events SET details = details || '{"forged": true}' WHERE seq = $1`, [seq]);
    const [row] = await tx.query(`SELECT prev_hash, audit_canonical(to_jsonb(e)) AS canonical FROM audit_events e WHERE seq = $1`, [seq]);
    await tx.query(`UPDATE audit_events SET hash = $2 WHERE seq = $1`, [seq, eventHash(row.prev_hash, row.canonical)]);
  });
}
