import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from 'pino';
import { withDbContext } from '../db/context';
import { loggable } from '../logging';
import { auditRow, quarantined, storable } from './events';
import type { AccessLogRow, AuditFacts, AuditRow, AuditScope } from './record';
import { insertAccessLogs, insertAuditRows } from './sql';

export interface AuditTrailOptions {
  /** Off only to measure what auditing costs (the benchmark): nothing is recorded at all. */
  readonly enabled: boolean;
  /** Who records: AuditEvent.source and the server agent. */
  readonly source: string;
  /** How long a read's event may wait in memory before its batch is written. */
  readonly flushIntervalMs: number;
  /** Rows per statement. */
  readonly maxBatch: number;
  /** Unwritten events beyond which the gateway refuses requests (503) rather than serve them unaudited. */
  readonly maxPending: number;
}

export const DEFAULT_AUDIT_OPTIONS: Omit<AuditTrailOptions, 'source'> = { enabled: true, flushIntervalMs: 5, maxBatch: 500, maxPending: 20000 };

/** One interaction a write stores with its own transaction. */
export interface AuditedWrite {
  readonly scope: AuditScope;
  readonly status: number;
  readonly facts: AuditFacts;
}

/** Counters since the trail was made (read-only, a few additions per request): what the benchmark reports. */
export interface AuditTrailStats {
  /** Events the flusher wrote (reads, searches, refusals) and events stored with writes that committed. */
  eventsFlushed: number;
  eventsWithWrites: number;
  accessLogsWritten: number;
  /** Flush transactions that committed, and their time in all (milliseconds). */
  batches: number;
  flushMs: number;
  /** The most events, and access_logs rows, that waited in memory at once. */
  maxPendingEvents: number;
  maxPendingLogs: number;
}

/** A failed flush is retried after this long, doubling up to the cap. */
const RETRY_MS = 200;
const MAX_RETRY_MS = 5000;

/**
 * Where every interaction's AuditEvent (and every request's access_logs row) goes. Writes store their
 * event in the write's own transaction (writeWith: no write without its event). Reads, searches and
 * refusals are queued in memory and written in batches every few milliseconds by one flusher, as the
 * application role: the response never waits for the audit. close() writes whatever is queued; the
 * gateway calls it on shutdown after the server has stopped taking requests.
 */
export class AuditTrail {
  private events: AuditRow[] = [];
  private logs: AccessLogRow[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private failures = 0;
  private droppedLogs = 0;
  private refusals = 0;
  private readonly counters: AuditTrailStats = {
    eventsFlushed: 0,
    eventsWithWrites: 0,
    accessLogsWritten: 0,
    batches: 0,
    flushMs: 0,
    maxPendingEvents: 0,
    maxPendingLogs: 0,
  };

  constructor(
    private readonly dataSource: DataSource,
    private readonly logger: Logger,
    readonly options: AuditTrailOptions,
  ) {}

  get enabled(): boolean {
    return this.options.enabled;
  }

  /** Events waiting to be written. */
  get pending(): number {
    return this.events.length;
  }

  get stats(): Readonly<AuditTrailStats> {
    return { ...this.counters };
  }

  /** Too much unwritten: new requests are refused until the database takes the backlog. */
  get overloaded(): boolean {
    return this.events.length >= this.options.maxPending;
  }

  /**
   * A request refused because the trail is behind: counted, not queued (one event per refusal would grow
   * the very backlog it reports); the next batch written carries one event with the count.
   */
  refusedWhileBehind(): void {
    if (this.options.enabled) this.refusals++;
  }

  /** Queues the event of an interaction that ended with `status` (once: a recorded scope is skipped). */
  record(scope: AuditScope, status: number, description: string | null = null): void {
    if (scope.recorded) return;
    scope.recorded = true;
    if (!this.options.enabled) return;
    this.events.push(auditRow(scope, status, this.options.source, description));
    if (this.events.length > this.counters.maxPendingEvents) this.counters.maxPendingEvents = this.events.length;
    this.schedule();
  }

  /** Queues one access_logs row. Operations data, not the compliance trail: dropped (and counted) rather than refused. */
  logAccess(row: AccessLogRow): void {
    if (!this.options.enabled) return;
    if (this.logs.length >= this.options.maxPending) {
      this.logs.shift();
      this.droppedLogs++;
    }
    this.logs.push(storable(row));
    if (this.logs.length > this.counters.maxPendingLogs) this.counters.maxPendingLogs = this.logs.length;
    this.schedule();
  }

  /**
   * Stores the events of a write inside its transaction `tx`; the caller marks them recorded once the
   * transaction has committed (markWritten), so a failed commit is still audited, as a failure.
   */
  async writeWith(tx: EntityManager, writes: readonly AuditedWrite[]): Promise<void> {
    if (!this.options.enabled) return;
    const rows = writes.map(({ scope, status, facts }) => auditRow({ ...scope, facts: { ...scope.facts, ...facts } }, status, this.options.source, null));
    await insertAuditRows(tx, rows);
  }

  markWritten(writes: readonly AuditedWrite[]): void {
    for (const { scope } of writes) scope.recorded = true;
    if (this.options.enabled) this.counters.eventsWithWrites += writes.length;
  }

  /** Writes everything queued so far; rejects if the database refuses it (the events stay queued). */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.running) await this.running;
    if (this.events.length === 0 && this.logs.length === 0) return;
    this.running = this.drain(true).finally(() => {
      this.running = null;
    });
    await this.running;
    if (this.events.length > 0) throw new Error(`${this.events.length} audit events could not be written`);
  }

  /**
   * Shutdown: the last batches, written before the database closes, retried until `deadlineMs`; what
   * still cannot be written is spilled, event by event, to the log (error level) and close() rejects.
   */
  async close(deadlineMs = 10_000): Promise<void> {
    const until = Date.now() + deadlineMs;
    for (;;) {
      try {
        await this.flush();
        break;
      } catch (err) {
        if (Date.now() + RETRY_MS < until) {
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
          continue;
        }
        for (const event of this.events) this.logger.error({ event }, 'audit event not written at shutdown');
        const lost = this.events.length;
        this.events = [];
        throw new Error(`${lost} audit events could not be written at shutdown; they are in the log`, { cause: err });
      }
    }
    if (this.droppedLogs > 0) this.logger.warn({ dropped: this.droppedLogs }, 'access_logs rows were dropped while the database was unavailable');
  }

  private schedule(): void {
    if (this.timer || this.running) return;
    const delay = this.failures === 0 ? this.options.flushIntervalMs : Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** (this.failures - 1));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.drain(false).finally(() => {
        this.running = null;
        if (this.events.length > 0 || this.logs.length > 0) this.schedule();
      });
    }, delay);
    // Queued events never hold a process open: shutdown calls close(), which writes them.
    this.timer.unref();
  }

  /**
   * Writes batches until the queues are empty (`all`: flush and shutdown) or the database refuses one
   * (which stays queued, in order). On the timer, one batch, and more only while full batches wait: what
   * arrived meanwhile waits for the next interval, so a busy gateway writes fewer, larger batches rather
   * than one small transaction after another.
   */
  private async drain(all: boolean): Promise<void> {
    for (let batch = 0; this.events.length > 0 || this.logs.length > 0; batch++) {
      if (!all && batch > 0 && this.events.length < this.options.maxBatch && this.logs.length < this.options.maxBatch) return;
      if (!this.dataSource.isInitialized) {
        this.logger.error({ events: this.events.length }, 'audit events could not be written: the database is closed');
        return;
      }
      if (this.refusals > 0) {
        this.events.unshift(this.refusalEvent(this.refusals));
        this.refusals = 0;
      }
      const events = this.events.splice(0, this.options.maxBatch);
      const logs = this.logs.splice(0, this.options.maxBatch);
      const started = performance.now();
      try {
        // As the application role: what may only append here is appended by the role that may only append.
        await withDbContext(this.dataSource, { role: 'system', allOrganizations: true }, async (tx) => {
          await insertAuditRows(tx, events);
          await insertAccessLogs(tx, logs);
        });
        this.failures = 0;
        this.counters.batches++;
        this.counters.flushMs += performance.now() - started;
        this.counters.eventsFlushed += events.length;
        this.counters.accessLogsWritten += logs.length;
      } catch (err) {
        // One row the database refuses must not hold up every event after it: row by row, the rows it
        // still refuses are stored in a quarantined form (and logged whole); if none goes in, the
        // database itself is the problem, and the batch waits for it, in order.
        if (await this.isolate(events, logs)) continue;
        this.events.unshift(...events);
        this.logs.unshift(...logs);
        this.failures++;
        this.logger.error({ err: loggable(err), events: this.events.length }, 'audit batch could not be written; retrying');
        return;
      }
    }
  }

  /** Writes a refused batch row by row; false when the database does not answer at all (nothing was written). */
  private async isolate(events: AuditRow[], logs: AccessLogRow[]): Promise<boolean> {
    const one = (work: (tx: EntityManager) => Promise<void>) =>
      withDbContext(this.dataSource, { role: 'system', allOrganizations: true }, work).then(
        () => true,
        () => false,
      );
    if (!(await one(async (tx) => void (await tx.query('SELECT 1'))))) return false;
    const refused: AuditRow[] = [];
    for (const event of events) {
      if (!(await one((tx) => insertAuditRows(tx, [event])))) refused.push(event);
    }
    for (const event of refused) {
      this.logger.error({ event }, 'audit event refused by the database; stored quarantined');
      if (!(await one((tx) => insertAuditRows(tx, [quarantined(event)])))) return false;
    }
    for (const log of logs) {
      if (!(await one((tx) => insertAccessLogs(tx, [log])))) this.droppedLogs++;
    }
    this.counters.eventsFlushed += events.length;
    return true;
  }

  /** The one event that stands for requests refused while the trail was behind. */
  private refusalEvent(count: number): AuditRow {
    return {
      ...auditRow(
        {
          request: { requestId: 'audit-backlog', address: null, userAgent: null },
          access: null,
          eventType: 'rest',
          subtype: 'operation',
          resourceType: null,
          id: null,
          version: null,
          query: null,
          recorded: false,
        },
        503,
        this.options.source,
        `${count} request(s) refused with 503 while the audit trail was behind`,
      ),
    };
  }
}
