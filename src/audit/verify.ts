import crypto from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { withMaintenanceContext } from '../db/context';

/**
 * Checks the audit trail's hash chain (the AuditTrail migration): every event's hash is SHA-256 of the
 * previous event's hash, '|' and audit_canonical(to_jsonb(event)), and seq runs 1, 2, 3 ... without gaps.
 * The hash is recomputed here, not by the database, so a rewritten trigger or function cannot vouch
 * for itself; only the canonical text comes from the database (jsonb's text form is its own).
 *
 * The walk follows seq, in windows of batchSize seqs, one short transaction each (memory and snapshots stay
 * small on a trail of years), as the maintenance identity: FORCE ROW LEVEL SECURITY holds a
 * non-superuser owner to the read policy too.
 */

export interface VerifyOptions {
  /** Start at the first event (in seq) recorded at or after this instant; its prev_hash is taken on trust. */
  from?: Date;
  /** Stop at the last event (in seq) recorded before this instant. */
  to?: Date;
  /** Seqs per transaction (and rows in memory). */
  batchSize?: number;
  /** Called after each batch with the seqs walked so far and the seqs in the range. */
  onProgress?: (done: number, total: number) => void;
}

export type BreakReason = 'hash mismatch' | 'link mismatch' | `missing events ${number}..${number}` | 'head mismatch';

export interface BrokenEvent {
  /** The event where the chain breaks; for a head mismatch, the last event there is (null: none at all). */
  seq: number | null;
  id: string | null;
  createdAt: Date | null;
  reason: BreakReason;
  /** What exactly differs, for a person to follow up. */
  detail: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Events whose hash and link were checked (up to the break, when there is one). */
  checked: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** The hash of the last event checked: the chain head's when headCompared. */
  headHash: string | null;
  /** The walk started mid-chain (--from after the first event): the first event's prev_hash was not checked. */
  trustedPrevHash: boolean;
  /** The walk reached the end of the chain and compared the last event with audit_chain. */
  headCompared: boolean;
  broken?: BrokenEvent;
}

export const GENESIS_HASH = '0'.repeat(64);
const DEFAULT_BATCH = 1000;

interface Head {
  seq: number;
  hash: string;
  /** An event committed beyond the head: the trigger never writes one, an owner's INSERT with hashes can. */
  beyond: EventRow | null;
}

interface EventRow {
  seq: number;
  id: string;
  createdAt: Date;
  prevHash: string;
  hash: string;
  canonical: string;
}

interface Range {
  firstSeq: number;
  lastSeq: number;
  reachesHead: boolean;
}

export async function verifyChain(ds: DataSource, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  const head = await inUtc(ds, readHead);
  const result: VerifyResult = {
    ok: true,
    checked: 0,
    firstSeq: null,
    lastSeq: null,
    headHash: null,
    trustedPrevHash: false,
    headCompared: false,
  };
  const range = await inUtc(ds, (tx) => resolveRange(tx, head, opts));
  if (range === null) {
    // Nothing in the range; without bounds that is an empty trail, whose head must still be genesis.
    if (opts.from === undefined && opts.to === undefined) return compareHead(result, head, null);
    return result;
  }
  const total = range.lastSeq - range.firstSeq + 1;
  opts.onProgress?.(0, total);

  // A --from before the first event still starts at genesis; a later one trusts its first link.
  let previous: { seq: number; hash: string } | null = range.firstSeq === 1 ? { seq: 0, hash: GENESIS_HASH } : null;
  result.trustedPrevHash = previous === null;
  // Windows of batchSize seqs rather than LIMIT batchSize: a window reads its own seqs only, whatever
  // the plan (audit_canonical is computed for every row read), and every copy of a forged duplicate
  // seq lands in the same window.
  let last: EventRow | null = null;
  for (let start = range.firstSeq; start <= range.lastSeq; start += batchSize) {
    const end = Math.min(start + batchSize - 1, range.lastSeq);
    const rows = await inUtc(ds, (tx) => readWindow(tx, start, end));
    for (const row of rows) {
      const broken = checkRow(row, previous);
      if (broken !== null) return { ...result, ok: false, broken };
      previous = { seq: row.seq, hash: row.hash };
      last = row;
      result.checked++;
      result.firstSeq ??= row.seq;
      result.lastSeq = row.seq;
      result.headHash = row.hash;
    }
    opts.onProgress?.(end - range.firstSeq + 1, total);
  }
  if (!range.reachesHead) return result;
  return compareHead(result, head, last);
}

/** The first thing wrong with `row` after `previous` (null: the walk started mid-chain), or null. */
function checkRow(row: EventRow, previous: { seq: number; hash: string } | null): BrokenEvent | null {
  const at = { seq: row.seq, id: row.id, createdAt: row.createdAt };
  if (previous !== null && row.seq > previous.seq + 1) {
    const first = previous.seq + 1;
    const lastMissing = row.seq - 1;
    return {
      ...at,
      reason: `missing events ${first}..${lastMissing}`,
      detail: 'deleted',
    };
  }
  if (previous !== null && row.seq <= previous.seq) {
    return { ...at, reason: 'link mismatch', detail: `seq ${row.seq} appears twice: an event was inserted outside the chain` };
  }
  if (previous !== null && row.prevHash !== previous.hash) {
    return {
      ...at,
      reason: 'link mismatch',
      detail: `prev_hash ${short(row.prevHash)} is not the hash ${short(previous.hash)} of event seq ${previous.seq}: that event was rewritten`,
    };
  }
  const expected = eventHash(row.prevHash, row.canonical);
  if (expected !== row.hash) {
    return { ...at, reason: 'hash mismatch', detail: `content edited: stored hash ${short(row.hash)}, the content hashes to ${short(expected)}` };
  }
  return null;
}

/** A deleted or rewritten last event leaves every link intact; only the head, written with it, tells. */
function compareHead(result: VerifyResult, head: Head, last: EventRow | null): VerifyResult {
  const done = { ...result, headCompared: true };
  const lastSeq = last?.seq ?? 0;
  const lastHash = last?.hash ?? GENESIS_HASH;
  if (head.beyond !== null) {
    const b = head.beyond;
    return {
      ...done,
      ok: false,
      broken: {
        seq: b.seq,
        id: b.id,
        createdAt: b.createdAt,
        reason: 'head mismatch',
        detail: `chain head is seq ${head.seq} hash ${short(head.hash)}, but event seq ${b.seq} lies beyond it: inserted outside the chain`,
      },
    };
  }
  if (head.seq === lastSeq && head.hash === lastHash) return { ...done, headHash: head.hash };
  return {
    ...done,
    ok: false,
    broken: {
      seq: last?.seq ?? null,
      id: last?.id ?? null,
      createdAt: last?.createdAt ?? null,
      reason: 'head mismatch',
      detail:
        `chain head is seq ${head.seq} hash ${short(head.hash)}, but the last event is ` +
        (last === null ? 'none' : `seq ${lastSeq} hash ${short(lastHash)}`) +
        (head.seq > lastSeq ? ': events at the end were deleted' : ': the last event was rewritten'),
    },
  };
}

export function eventHash(prevHash: string, canonical: string): string {
  return crypto.createHash('sha256').update(`${prevHash}|${canonical}`, 'utf8').digest('hex');
}

function short(hash: string): string {
  return `${hash.slice(0, 12)}…`;
}

/** audit_canonical renders timestamps in the session's zone; the trigger hashed them in UTC. */
function inUtc<T>(ds: DataSource, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  return withMaintenanceContext(ds, async (tx) => {
    await tx.query(`SELECT set_config('TimeZone', 'UTC', true)`);
    return work(tx);
  });
}

const EVENT_COLUMNS = `e.seq::text AS seq, e.id, e.created_at, e.prev_hash, e.hash, audit_canonical(to_jsonb(e)) AS canonical`;

type StoredRow = { seq: string; id: string; created_at: Date; prev_hash: string; hash: string; canonical: string };

function toEvent(r: StoredRow): EventRow {
  return { seq: Number(r.seq), id: r.id, createdAt: r.created_at, prevHash: r.prev_hash, hash: r.hash, canonical: r.canonical };
}

async function readHead(tx: EntityManager): Promise<Head> {
  // One statement, one snapshot: an event beyond the head in the same snapshot was not linked by the
  // trigger (which advances the head in the event's own transaction).
  const [row] = await tx.query(
    `SELECT h.seq::text AS seq, h.hash,
            (SELECT to_jsonb(b) FROM (SELECT ${EVENT_COLUMNS} FROM audit_events e WHERE e.seq > h.seq ORDER BY e.seq LIMIT 1) b) AS beyond
       FROM audit_chain h WHERE h.id = 1`,
  );
  if (row === undefined) throw new Error('audit_chain has no head row: the AuditTrail migration has not run, or the row was deleted');
  const beyond = row.beyond === null ? null : toEvent({ ...row.beyond, created_at: new Date(row.beyond.created_at) });
  return { seq: Number(row.seq), hash: row.hash, beyond };
}

/** The contiguous seq range to walk: created_at bounds its ends only (it is not monotonic in seq). */
async function resolveRange(tx: EntityManager, head: Head, opts: VerifyOptions): Promise<Range | null> {
  let firstSeq = 1;
  if (opts.from !== undefined) {
    const [{ seq }] = await tx.query(`SELECT min(seq)::text AS seq FROM audit_events WHERE created_at >= $1`, [opts.from]);
    if (seq === null) return null;
    firstSeq = Number(seq);
  }
  let lastSeq = head.seq;
  let reachesHead = true;
  if (opts.to !== undefined) {
    const [row] = await tx.query(
      `SELECT (SELECT max(seq)::text FROM audit_events WHERE created_at < $1) AS seq,
              EXISTS (SELECT 1 FROM audit_events WHERE created_at >= $1) AS later`,
      [opts.to],
    );
    if (row.seq === null) return null;
    // Events appended since the head was read are not part of this run.
    lastSeq = Math.min(Number(row.seq), head.seq);
    reachesHead = lastSeq === head.seq || !row.later;
  }
  return firstSeq > lastSeq ? null : { firstSeq, lastSeq, reachesHead };
}

/** The events of seqs start..end, in chain order (a duplicate seq by id). */
async function readWindow(tx: EntityManager, start: number, end: number): Promise<EventRow[]> {
  const rows: StoredRow[] = await tx.query(
    `SELECT ${EVENT_COLUMNS} FROM audit_events e WHERE e.seq BETWEEN $1 AND $2 ORDER BY e.seq, e.id`,
    [start, end],
  );
  return rows.map(toEvent);
}
