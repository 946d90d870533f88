import { Command } from 'commander';
import { withDatabase } from '../database';
import { plural } from '../format';
import { integerOption } from '../options';

export function partitionsCommand(): Command {
  return new Command('partitions')
    .description('create the monthly access_logs partitions from this month on (existing ones are kept)')
    .option('--months <n>', 'how many months, starting with the current one', integerOption(1, 240), 3)
    .action(async (flags: { months: number }) => {
      const [row] = await withDatabase(({ dataSource }) =>
        dataSource.query(
          `SELECT ensure_access_log_partitions(current_date, $1) AS created,
                  to_char(current_date, 'YYYY-MM') AS first_month,
                  to_char(current_date + make_interval(months => $1 - 1), 'YYYY-MM') AS last_month`,
          [flags.months],
        ),
      );
      const created = Number(row.created);
      console.log(
        `partitions: created ${plural(created, 'access_logs partition')} ` +
          `(${row.first_month}..${row.last_month}, ${flags.months - created} already existed)`,
      );
    });
}
