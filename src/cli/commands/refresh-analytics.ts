import { Command } from 'commander';
import { refreshAnalytics } from '../../analytics/refresh';
import { withDatabase } from '../database';
import { count, seconds } from '../format';
import { dateOption, integerOption } from '../options';
import { startProgress } from '../progress';

export function refreshAnalyticsCommand(): Command {
  return new Command('refresh-analytics')
    .description('refresh cohort_analysis_summary and recompute daily_metrics and user_trends')
    .option('--period-days <n>', 'length of the user_trends period in days', integerOption(1, 3650), 90)
    .option('--as-of <date>', 'last day of the user_trends period, YYYY-MM-DD (default: today, UTC)', dateOption)
    .action(async (flags: { periodDays: number; asOf?: string }) => {
      const started = Date.now();
      const s = await withDatabase(async ({ dataSource }) => {
        const progress = startProgress('refresh-analytics', 'steps');
        try {
          return await refreshAnalytics(dataSource, { ...flags, onProgress: (done, total) => progress.update(done, total) });
        } finally {
          progress.stop();
        }
      });
      const removed = (n: number): string => (n > 0 ? `, ${count(n)} stale removed` : '');
      console.log(
        `refresh-analytics: cohort_analysis_summary ${count(s.cohortRows)} rows (${s.cohortRefresh === 'concurrent' ? 'refreshed concurrently' : 'first full refresh'}), ` +
          `daily_metrics ${count(s.dailyMetrics)} rows${removed(s.dailyMetricsRemoved)}, ` +
          `user_trends ${count(s.userTrends)} rows for ${s.periodStart}..${s.periodEnd}${removed(s.userTrendsRemoved)} ` +
          `in ${seconds(Date.now() - started)}`,
      );
    });
}
