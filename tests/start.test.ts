import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { openDatabase } from '../src/db/datasource';
import { withMaintenanceContext } from '../src/db/context';
import { DEMO } from '../src/demo/bootstrap';
import { createScratchDatabase, testBackend, type ScratchDatabase } from './support/database';
import { runTs, type Child } from './support/child';

/** Sends half a request, calls `between`, then completes it; resolves with the raw response. */
async function requestAcrossShutdown(base: string, between: () => void): Promise<string> {
  const { port } = new URL(base);
  const socket = net.connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  let response = '';
  socket.on('data', (d) => (response += d));
  socket.write('GET /readyz HTTP/1.1\r\nHost: localhost\r\n');
  await new Promise((r) => setTimeout(r, 300));
  between();
  await new Promise((r) => setTimeout(r, 300));
  socket.write('Connection: close\r\n\r\n');
  await once(socket, 'close');
  return response;
}

/** `npm start` as a user runs it: a real process, on an empty database of the backend under test. */
describe(`npm start (${testBackend()})`, () => {
  let scratch: ScratchDatabase;
  beforeAll(async () => {
    scratch = await createScratchDatabase();
  });
  afterAll(() => scratch.drop());

  // A server deployment needs PHI_KEYS; the embedded one keeps a generated key in DATA_DIR (tests/phi covers both).
  const phiKeys: Record<string, string> = testBackend() === 'embedded' ? {} : { PHI_KEYS: `k1:${crypto.randomBytes(32).toString('base64')}` };
  const start = async (): Promise<{ child: Child; base: string }> => {
    const child = runTs('src/main.ts', [], { ...scratch.env, ...phiKeys, PORT: '0', DEMO_DATA: 'true' });
    const [, base] = await child.waitFor(/listening on (http:\/\/\S+)/);
    return { child, base };
  };
  const stop = async (child: Child) => {
    child.process.kill('SIGTERM');
    expect(await child.exited()).toBe(0);
  };

  it('migrates, creates the demo clinic, serves /readyz, stops on SIGTERM, and keeps its data across a restart', async () => {
    const first = await start();
    expect(first.child.stdout()).toContain(`demo data: ${DEMO.patients} patients, ${DEMO.clinicians} clinicians`);
    expect(first.child.stdout()).toContain(`curl ${first.base}/readyz`);
    const ready = await fetch(`${first.base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', backend: testBackend() });

    // A request in flight when SIGTERM arrives (its headers half sent) is still answered, then the process exits.
    const answer = await requestAcrossShutdown(first.base, () => first.child.process.kill('SIGTERM'));
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('"status":"ready"');
    expect(await first.child.exited()).toBe(0);

    const second = await start();
    expect(second.child.stdout()).not.toContain('demo data:');
    expect((await fetch(`${second.base}/readyz`)).status).toBe(200);
    await stop(second.child);

    const db = await openDatabase(scratch.config);
    try {
      const counts = await withMaintenanceContext(db.dataSource, async (tx) => ({
        organizations: (await tx.query(`SELECT count(*)::int AS n FROM organizations`))[0].n,
        clinicians: (await tx.query(`SELECT count(*)::int AS n FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE r.name = 'clinician'`))[0].n,
        patients: (await tx.query(`SELECT count(DISTINCT user_id)::int AS n FROM assessments`))[0].n,
        pipelines: (await tx.query(`SELECT array_agg(DISTINCT pipeline_type ORDER BY pipeline_type) AS p FROM assessments`))[0].p,
      }));
      expect(counts).toEqual({
        organizations: DEMO.organizations,
        clinicians: DEMO.clinicians,
        patients: DEMO.patients,
        pipelines: ['cardiology', 'cognitive', 'dermatology', 'radiology', 'retinal', 'speech'],
      });
    } finally {
      await db.close();
    }
  });

  /** The banner's demo-client commands, exactly as printed, run by bash as a user would paste them. */
  const pasteDemoCommands = async (stdout: string): Promise<{ body: Record<string, unknown>; patientId: string }> => {
    const lines = stdout.split('\n');
    const first = lines.findIndex((l) => l.trim().startsWith('TOKEN=$(curl'));
    const last = lines.findIndex((l, i) => i > first && l.includes('/fhir/Patient/'));
    expect(first).toBeGreaterThan(0);
    expect(last).toBeGreaterThan(first);
    const script = lines.slice(first, last + 1).join('\n');
    const { stdout: out } = await promisify(execFile)('bash', ['-c', script]);
    return { body: JSON.parse(out), patientId: /\/fhir\/Patient\/([0-9a-f-]{36})/.exec(lines[last])![1] };
  };

  it('prints a demo client whose curl commands get a token and read a Patient; a restart replaces the secret', async () => {
    const first = await start();
    const pasted = await pasteDemoCommands(first.child.stdout());
    expect(pasted.body).toMatchObject({ resourceType: 'Patient', id: pasted.patientId, active: true });
    await stop(first.child);

    const second = await start();
    // The first start's secret is gone: its token request fails, so the read is refused.
    const stale = await pasteDemoCommands(first.child.stdout().replace(/:\d+\//g, `:${new URL(second.base).port}/`));
    expect(stale.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'security' }] });
    const fresh = await pasteDemoCommands(second.child.stdout());
    expect(fresh.body).toMatchObject({ resourceType: 'Patient', id: pasted.patientId });
    await stop(second.child);
  });

  const embeddedOnly = testBackend() === 'embedded' ? it : it.skip;
  embeddedOnly('refuses a second process on the same embedded data directory', async () => {
    const first = await start();
    const second = runTs('src/main.ts', [], { ...scratch.env, PORT: '0' });
    expect(await second.exited()).toBe(1);
    expect(second.stderr()).toMatch(/DATA_DIR .* is in use by process \d+/);
    await stop(first.child);
  });
});
