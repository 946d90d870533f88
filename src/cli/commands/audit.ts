import { Command } from 'commander';
import { verifyChain, type BrokenEvent, type VerifyResult } from '../../audit/verify';
import { withDatabase } from '../database';
import { UsageError } from '../errors';
import { plural } from '../format';
import { instantOption, integerOption } from '../options';
import { startProgress } from '../progress';

export function auditCommand(): Command {
  return new Command('audit').description('the audit trail (audit_events)').addCommand(verifyCommand());
}

function verifyCommand(): Command {
  return new Command('verify')
    .description(
      "recompute the audit trail's hash chain and check that no event was edited, removed or inserted: the whole chain, " +
        'or the events recorded from --from to before --to',
    )
    .option('--from <date>', 'start at the first event recorded at or after this date or date-time (UTC unless given)', instantOption)
    .option('--to <date>', 'stop at the last event recorded before this date or date-time (UTC unless given)', instantOption)
    .option('--batch-size <n>', 'seqs (events) per transaction', integerOption(1, 100_000), 1000)
    .action(async (flags: { from?: Date; to?: Date; batchSize: number }) => {
      if (flags.from !== undefined && flags.to !== undefined && flags.from >= flags.to) {
        throw new UsageError(`--from (${flags.from.toISOString()}) must be before --to (${flags.to.toISOString()})`);
      }
      const result = await withDatabase(async ({ dataSource }) => {
        const progress = startProgress('audit verify', 'events');
        try {
          return await verifyChain(dataSource, { ...flags, onProgress: (done, total) => progress.update(done, total) });
        } finally {
          progress.stop();
        }
      });
      if (result.broken === undefined) {
        console.log(`audit verify: ${summaryLine(result, flags)}`);
        return;
      }
      console.log(`audit verify: ${brokenLine(result.broken)}`);
      // The line above is the finding; the error sets the exit code (1) for schedulers and scripts.
      throw new Error(`the audit chain is broken${result.broken.seq === null ? '' : ` at seq ${result.broken.seq}`} (${result.broken.reason})`);
    });
}

function summaryLine(r: VerifyResult, flags: { from?: Date; to?: Date }): string {
  const hash = r.headCompared ? `chain head ${r.headHash}` : `last hash ${r.headHash} (chain head not compared: the chain goes on after --to)`;
  if (r.checked === 0) {
    if (r.headCompared) return `0 events verified (the audit trail is empty), ${hash}`;
    return `0 events verified (none recorded ${recorded(flags)})`;
  }
  const parts = [`seq ${r.firstSeq}..${r.lastSeq}`];
  if (flags.from !== undefined || flags.to !== undefined) parts.push(`recorded ${recorded(flags)}`);
  if (r.trustedPrevHash) parts.push(`its link to seq ${r.firstSeq! - 1} taken on trust`);
  return `${plural(r.checked, 'event')} verified (${parts.join(', ')}), ${hash}`;
}

function recorded(flags: { from?: Date; to?: Date }): string {
  const bounds = [flags.from && `from ${flags.from.toISOString()}`, flags.to && `before ${flags.to.toISOString()}`];
  return bounds.filter(Boolean).join(' ');
}

function brokenLine(b: BrokenEvent): string {
  const what = b.seq === null ? 'the chain' : `event seq ${b.seq} (id ${b.id}, recorded ${b.createdAt!.toISOString()})`;
  return `${what} is broken: ${b.reason} (${b.detail})`;
}
