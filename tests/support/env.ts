/** Which backend this test run targets: embedded PGlite unless TEST_DATABASE_URL names a server. */
export type TestBackend = 'embedded' | 'postgres' | 'neon';

export function testBackend(): TestBackend {
  if (!process.env.TEST_DATABASE_URL) return 'embedded';
  return process.env.TEST_DATABASE_DRIVER === 'neon' ? 'neon' : 'postgres';
}

/** Set by global-setup, read by workers. */
export const ENV = {
  snapshot: 'MEDILENS_TEST_PGLITE_SNAPSHOT',
  template: 'MEDILENS_TEST_TEMPLATE_DB',
  runId: 'MEDILENS_TEST_RUN_ID',
  neonProxy: 'MEDILENS_TEST_NEON_PROXY',
} as const;

/** The server URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
