import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from './src/config';
import { commonOptions } from './src/db/datasource';

/**
 * The DataSource TypeORM's own CLI uses (`npx typeorm-ts-node-commonjs -d ormconfig.ts migration:show`).
 * It needs a server: the embedded database lives inside the gateway process, so for it use
 * `npm run cli -- migrate` instead. Migrations are written by hand; never generate or synchronize.
 */
const config = loadConfig(process.env);
if (config.database.kind === 'embedded') {
  throw new Error('ormconfig.ts needs DATABASE_URL; for the embedded database use `npm run cli -- migrate`');
}

export default new DataSource({
  ...commonOptions,
  url: config.database.url,
  ...(config.database.kind === 'neon' ? { driver: require('@neondatabase/serverless') } : {}),
});
