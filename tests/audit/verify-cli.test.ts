import { openDatabase, type Database } from '../../src/db/datasource';
import { runTs } from '../support/child';
import { createScratchDatabase, testBackend, type ScratchDatabase } from '../support/database';
import { insertAssessment, insertOrganization, insertUser } from '../support/fixtures';
import { appendEvents, chainHead, storedEvents, type StoredEvent } from './chain-fixtures';

/** `npm run cli -- audit verify` as an auditor runs it, against a database of the backend under test. */
describe(`audit verify CLI (${testBackend()})`, () => {
  jest.setTimeout(180_000);
  let scratch: ScratchDatabase;
  let events: StoredEvent[];
  let head: { seq: number; hash: string };

  async function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = runTs('src/cli/index.ts', args, scratch.env);
    const code = await child.exited();
    return { code, stdout: child.stdout(), stderr: child.stderr() };
  }

  /** The CLI and this process take turns: an embedded data directory has one user at a time. */
  async function withDb<T>(work: (db: Database) => Promise<T>): Promise<T> {
    const db = await openDatabase(scratch.config);
    try {
      return await work(db);
    } finally {
      await db.close();
    }
  }

  function oneLine(text: string): string {
    const lines = text.trim().split('\n');
    expect(lines).toHaveLength(1);
    return lines[0];
  }

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    expect((await cli('migrate')).code).toBe(0);
    await withDb(async ({ dataSource: ds }) => {
      await appendEvents(ds, 'may', 3, '2031-05-10T12:00:00Z');
      const org = await insertOrganization(ds, 'CLI Clinic');
      // The MediLens backend's trigger records this one, at the current time.
      await insertAssessment(ds, await insertUser(ds, org, 'Verified'), org);
      await appendEvents(ds, 'june', 3, '2031-06-10T12:00:00Z');
      events = await storedEvents(ds);
      head = await chainHead(ds);
    });
  });
  afterAll(() => scratch.drop());

  it('verifies the whole chain: one summary line, exit 0', async () => {
    const run = await cli('audit', 'verify');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(head).toEqual({ seq: 7, hash: events[6].hash });
    expect(oneLine(run.stdout)).toBe(`audit verify: 7 events verified (seq 1..7), chain head ${head.hash}`);
  });

  it('--from and --to bound the walk, and say what was taken on trust or not compared', async () => {
    const from = await cli('audit', 'verify', '--from', '2031-06-01', '--batch-size', '2');
    expect(from.code).toBe(0);
    expect(oneLine(from.stdout)).toBe(
      `audit verify: 3 events verified (seq 5..7, recorded from 2031-06-01T00:00:00.000Z, its link to seq 4 taken on trust), chain head ${head.hash}`,
    );
    const to = await cli('audit', 'verify', '--to', '2031-05-31T23:00');
    expect(to.code).toBe(0);
    // seq 4 (the trigger's) was recorded now, before --to too.
    expect(oneLine(to.stdout)).toBe(
      `audit verify: 4 events verified (seq 1..4, recorded before 2031-05-31T23:00:00.000Z), last hash ${events[3].hash} ` +
        '(chain head not compared: the chain goes on after --to)',
    );
  });

  it('rejects a bad date or an empty range as a usage error (exit 2), naming the option', async () => {
    const bad = await cli('audit', 'verify', '--from', 'yesterday');
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(oneLine(bad.stderr)).toMatch(/option '--from <date>' argument 'yesterday' is invalid\. expected an ISO date \(YYYY-MM-DD\) or date-time/);
    const impossible = await cli('audit', 'verify', '--to', '2031-02-30');
    expect(impossible.code).toBe(2);
    expect(oneLine(impossible.stderr)).toMatch(/'--to <date>' argument '2031-02-30' is invalid/);
    const backwards = await cli('audit', 'verify', '--from', '2031-06-01', '--to', '2031-05-01');
    expect(backwards.code).toBe(2);
    expect(oneLine(backwards.stderr)).toBe('error: --from (2031-06-01T00:00:00.000Z) must be before --to (2031-05-01T00:00:00.000Z)');
  });

  it('names the first broken event and exits 1 once an event was edited', async () => {
    await withDb(({ dataSource }) => dataSource.query(`UPDATE audit_events SET details = '{"marker": "edited"}' WHERE seq = 2`));
    const run = await cli('audit', 'verify');
    expect(run.code).toBe(1);
    const edited = events[1];
    expect(oneLine(run.stdout)).toMatch(
      new RegExp(`^audit verify: event seq 2 \\(id ${edited.id}, recorded ${edited.createdAt.toISOString()}\\) is broken: hash mismatch \\(content edited: `),
    );
    expect(oneLine(run.stderr)).toBe('error: the audit chain is broken at seq 2 (hash mismatch)');
    // What comes after the edit still verifies on its own.
    expect((await cli('audit', 'verify', '--from', '2031-06-01')).code).toBe(0);
  });
});
