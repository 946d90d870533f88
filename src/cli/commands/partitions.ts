import { Command } from 'commander';
import { withDatabase } from '../database';
import { plural } from '../format';
import { integerOption } from '../options';

/** The monthly-partitioned logs; a month without its own partition lands in the log's default partition. */
const LOGS = ['access_logs', 'audit_events'] as const;

export function partitionsCommand(): Command {
  return new Command('partitions')
    .description('create the monthly access_logs and audit_events partitions from this month on (existing ones are kept)')
    .option('--months <n>', 'how many months, starting with the current one', integerOption(1, 240), 3)
    .action(async (flags: { months: number }) => {
      // One statement, one transaction: both logs get their months, or neither does.
      const [row] = await withDatabase(({ dataSource }) =>
        dataSource.query(
          `SELECT ${LOGS.map((log) => `ensure_monthly_partitions('${log}', current_date, $1) AS ${log}`).join(', ')},
                  to_char(current_date, 'YYYY-MM') AS first_month,
                  to_char(current_date + make_interval(months => $1 - 1), 'YYYY-MM') AS last_month`,
          [flags.months],
        ),
      );
      const [access, audit] = LOGS.map((log) => Number(row[log]));
      console.log(
        `partitions: created ${plural(access, 'access_logs partition')} ` +
          `(${row.first_month}..${row.last_month}, ${flags.months - access} already existed) ` +
          `and ${plural(audit, 'audit_events partition')} (${flags.months - audit} already existed)`,
      );
    });
}
