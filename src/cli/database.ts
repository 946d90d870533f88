import { loadConfig } from '../config';
import { openDatabase, type Database } from '../db/datasource';

/**
 * Opens the database the environment configures (a ConfigError surfaces before anything is opened), runs
 * the command's work and closes the database again, also when the work fails.
 */
export async function withDatabase<T>(work: (db: Database) => Promise<T>): Promise<T> {
  const config = loadConfig();
  // Three connections: migrate() holds one for its advisory lock while TypeORM migrates on another and the
  // progress bar polls on a third; demo-data writes two batches at a time.
  const db = await openDatabase(config.database, { poolSize: 3 });
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}
