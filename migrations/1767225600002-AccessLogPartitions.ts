import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * access_logs is range-partitioned by month (seed §3.7). The seed created three fixed months, after which
 * every insert fails; here a DEFAULT partition catches any month without its own partition, and
 * ensure_access_log_partitions() creates monthly partitions ahead of time, moving rows that already
 * landed in the default partition for that month (ATTACH would refuse otherwise).
 */
export class AccessLogPartitions1767225600002 implements MigrationInterface {
  name = 'AccessLogPartitions1767225600002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE access_logs_default PARTITION OF access_logs DEFAULT;

      CREATE FUNCTION ensure_access_log_partitions(first_month DATE, months INT) RETURNS INT
      LANGUAGE plpgsql AS $$
      DECLARE
        created INT := 0;
        month_start DATE;
        lower_bound TIMESTAMPTZ;
        upper_bound TIMESTAMPTZ;
        part TEXT;
      BEGIN
        IF months < 1 OR months > 240 THEN
          RAISE EXCEPTION 'months must be between 1 and 240, got %', months;
        END IF;
        FOR i IN 0 .. months - 1 LOOP
          month_start := (date_trunc('month', first_month) + make_interval(months => i))::date;
          part := 'access_logs_' || to_char(month_start, 'YYYY_MM');
          CONTINUE WHEN to_regclass(part) IS NOT NULL;
          -- Month boundaries in UTC, whatever the session time zone.
          lower_bound := month_start::timestamp AT TIME ZONE 'UTC';
          upper_bound := (month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC';
          -- Hold off inserts into the default partition until the ATTACH: a row for this month arriving
          -- between the move and the ATTACH would make the ATTACH fail.
          LOCK TABLE access_logs_default IN ACCESS EXCLUSIVE MODE;
          EXECUTE format('CREATE TABLE %I (LIKE access_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
          EXECUTE format(
            'WITH moved AS (DELETE FROM access_logs_default WHERE created_at >= $1 AND created_at < $2 RETURNING *)
             INSERT INTO %I SELECT * FROM moved', part) USING lower_bound, upper_bound;
          EXECUTE format('ALTER TABLE access_logs ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                         part, lower_bound, upper_bound);
          created := created + 1;
        END LOOP;
        RETURN created;
      END $$;

      SELECT ensure_access_log_partitions(current_date, 3);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    const parts: { name: string }[] = await q.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'access_logs'::regclass`,
    );
    for (const { name } of parts) await q.query(`DROP TABLE "${name}"`);
    await q.query(`DROP FUNCTION IF EXISTS ensure_access_log_partitions(DATE, INT)`);
  }
}
