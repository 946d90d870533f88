import { Command, CommanderError } from 'commander';
import { auditCommand } from './commands/audit';
import { clientsCommand } from './commands/clients';
import { demoDataCommand } from './commands/demo-data';
import { migrateCommand } from './commands/migrate';
import { partitionsCommand } from './commands/partitions';
import { refreshAnalyticsCommand } from './commands/refresh-analytics';
import { rotatePhiKeyCommand } from './commands/rotate-phi-key';
import { seedCommand } from './commands/seed';
import { describeError, exitCodeOf } from './errors';

/** The MediLens gateway's command line: `npm run cli -- <command> [options]`. */
export function buildProgram(): Command {
  return new Command('medilens')
    .description('MediLens FHIR gateway: database maintenance, demo data, API clients and the audit trail')
    .addCommand(migrateCommand())
    .addCommand(seedCommand())
    .addCommand(demoDataCommand())
    .addCommand(refreshAnalyticsCommand())
    .addCommand(partitionsCommand())
    .addCommand(clientsCommand())
    .addCommand(rotatePhiKeyCommand())
    .addCommand(auditCommand())
    .exitOverride();
}

/** Parses argv and runs the command; resolves to the process exit code. Errors become one line on stderr. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  const override = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(override);
  };
  override(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has printed the message already; help and version are not failures.
      return err.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`error: ${describeError(err)}\n`);
    return exitCodeOf(err);
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`error: ${describeError(err)}\n`);
      process.exitCode = 1;
    },
  );
}
