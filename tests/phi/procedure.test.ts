import fs from 'node:fs';
import path from 'node:path';
import { openDatabase } from '../../src/db/datasource';
import { PHI_COLUMNS } from '../../src/phi/cipher';
import { parsePhiKeys } from '../../src/phi/keyring';
import { KEY_FILE } from '../../src/phi/resolve';
import { runTs, type Child } from '../support/child';
import { createScratchDatabase, testBackend, type ScratchDatabase } from '../support/database';
import { decrypted, newKey, rawProfiles } from './helpers';

/**
 * The README's rotation procedure with the real processes: `npm start` writes the demo clinic's records
 * under the first key; a restart with only the new key is refused; the new key is added first, the
 * gateway restarted, rotate-phi-key run, the old key removed, and the gateway starts again.
 */
describe(`PHI key rotation, as an operator does it (${testBackend()})`, () => {
  jest.setTimeout(240_000);
  const embedded = testBackend() === 'embedded';
  let scratch: ScratchDatabase;
  beforeAll(async () => {
    scratch = await createScratchDatabase();
  });
  afterAll(() => scratch.drop());

  const start = (phiKeys: string | undefined): Child =>
    runTs('src/main.ts', [], { ...scratch.env, PHI_KEYS: phiKeys ?? '', PORT: '0', DEMO_DATA: 'true' });
  const listening = async (child: Child): Promise<void> => {
    await child.waitFor(/listening on http/);
  };
  const stop = async (child: Child): Promise<void> => {
    child.process.kill('SIGTERM');
    expect(await child.exited()).toBe(0);
  };

  it('rotates the demo records from the first key to a new one', async () => {
    // The first key: on the embedded database the one npm start generates into DATA_DIR; a server needs PHI_KEYS.
    const serverKey = `k1:${newKey()}`;
    const first = start(embedded ? undefined : serverKey);
    await listening(first);
    await stop(first);
    let oldEntry = serverKey;
    if (embedded) {
      const file = path.join(scratch.env.DATA_DIR, KEY_FILE);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      oldEntry = fs.readFileSync(file, 'utf8').trim();
    }
    const oldKid = oldEntry.split(':')[0];
    const newEntry = `k2:${newKey()}`;

    const refused = start(newEntry);
    expect(await refused.exited()).toBe(1);
    expect(refused.stderr().trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(`^Start-up failed: the database holds PHI encrypted under key id "${oldKid}" \\(75 fields\\) that PHI_KEYS lacks \\(it holds k2\\): add that key to PHI_KEYS after the current one$`),
      ),
    ]);

    const both = `${newEntry},${oldEntry}`;
    const serving = start(both);
    await listening(serving);
    // The embedded database allows one process at a time; a server's gateway keeps serving during the rotation.
    if (embedded) await stop(serving);
    const rotation = runTs('src/cli/index.ts', ['rotate-phi-key', '--batch-size', '10'], { ...scratch.env, PHI_KEYS: both });
    expect(await rotation.exited()).toBe(0);
    expect(rotation.stderr()).toBe('');
    expect(rotation.stdout().trim()).toMatch(
      new RegExp(`^rotate-phi-key: re-encrypted 25 rows under key k2 \\(from ${oldKid}: 25 rows\\) in [\\d.]+ s$`),
    );
    const again = runTs('src/cli/index.ts', ['rotate-phi-key'], { ...scratch.env, PHI_KEYS: both });
    expect(await again.exited()).toBe(0);
    expect(again.stdout().trim()).toMatch(/^rotate-phi-key: re-encrypted 0 rows: every PHI field was already under key k2 \([\d.]+ s\)$/);
    if (!embedded) await stop(serving);

    const after = start(newEntry);
    await listening(after);
    await stop(after);

    const db = await openDatabase(scratch.config);
    try {
      const rows = await rawProfiles(db.dataSource);
      expect(rows.size).toBe(25);
      const ring = parsePhiKeys(newEntry);
      for (const row of rows.values()) {
        for (const c of PHI_COLUMNS) expect(JSON.parse(row[c]!).kid).toBe('k2');
        expect(Object.values(decrypted(ring, row)).every(Array.isArray)).toBe(true);
      }
    } finally {
      await db.close();
    }
  });
});
