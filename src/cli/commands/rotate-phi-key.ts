import { Command } from 'commander';
import { loadConfig } from '../../config';
import { resolvePhiKeys } from '../../phi/resolve';
import { rotatePhiKeys, type RotationSummary } from '../../phi/rotate';
import { withDatabase } from '../database';
import { plural, seconds } from '../format';
import { integerOption } from '../options';
import { startProgress } from '../progress';

export function rotatePhiKeyCommand(): Command {
  return new Command('rotate-phi-key')
    .description(
      'encrypt every PHI field (medical history, medications, allergies) that is not under the current key of ' +
        'PHI_KEYS yet: older keys and plaintext; in short batches, while the gateway keeps serving',
    )
    .option('--batch-size <n>', 'rows per transaction', integerOption(1, 100_000), 500)
    .action(async (flags: { batchSize: number }) => {
      const phiKeys = resolvePhiKeys(loadConfig());
      const summary = await withDatabase(async ({ dataSource }) => {
        const progress = startProgress('rotate-phi-key', 'rows');
        try {
          return await rotatePhiKeys(dataSource, phiKeys, {
            batchSize: flags.batchSize,
            onProgress: (done, total) => progress.update(done, total),
          });
        } finally {
          progress.stop();
        }
      });
      console.log(`rotate-phi-key: ${summaryLine(summary)}`);
      if (summary.left > 0) {
        throw new Error(`${plural(summary.left, 'row')} stayed locked by other transactions and are not under key ${summary.currentKid} yet: run rotate-phi-key again`);
      }
    });
}

function summaryLine(s: RotationSummary): string {
  if (s.rows === 0) return `re-encrypted 0 rows: every PHI field was already under key ${s.currentKid} (${seconds(s.elapsedMs)})`;
  const sources = [
    ...Object.entries(s.byOldKey).sort(([a], [b]) => a.localeCompare(b)).map(([kid, rows]) => `from ${kid}: ${plural(rows, 'row')}`),
    ...(s.plaintext > 0 ? [`plaintext: ${plural(s.plaintext, 'row')}`] : []),
  ];
  return `re-encrypted ${plural(s.rows, 'row')} under key ${s.currentKid} (${sources.join(', ')}) in ${seconds(s.elapsedMs)}`;
}
