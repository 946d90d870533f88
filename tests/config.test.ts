import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError, loadConfig } from '../src/config';

describe('configuration', () => {
  it('defaults to the embedded database under ./data on port 8080', () => {
    const config = loadConfig({});
    expect(config.database).toEqual({ kind: 'embedded', dataDir: path.resolve('./data') });
    expect(config.port).toBe(8080);
    expect(config.publicBaseUrl).toBe('http://localhost:8080');
    expect(config.demoData).toBe(true);
  });

  it('selects the Postgres server, or Neon, from DATABASE_URL and DATABASE_DRIVER', () => {
    const url = 'postgres://app:secret@db.example.org:5432/medilens';
    expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ kind: 'postgres', url });
    expect(loadConfig({ DATABASE_URL: url, DATABASE_DRIVER: 'neon' }).database).toEqual({ kind: 'neon', url, wsProxy: null });
    expect(loadConfig({ DATABASE_URL: url }).demoData).toBe(false);
    expect(loadConfig({ DATA_DIR: ':memory:' }).database).toEqual({ kind: 'embedded', dataDir: null });
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT: expected an integer from 0 to 65535, got "abc"'],
    [{ PORT: '70000' }, 'PORT: expected an integer from 0 to 65535, got "70000"'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL: expected a postgres://user@host:port/database URL, got "mysql://x"'],
    [{ DATABASE_URL: 'postgres://u:hunter2@h/db', DATABASE_DRIVER: 'mysql' }, 'DATABASE_DRIVER: expected one of pg, neon, got "mysql"'],
    [{ DATABASE_DRIVER: 'neon' }, 'DATABASE_URL: expected a postgres:// URL when DATABASE_DRIVER is set, got nothing'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ DEMO_DATA: 'maybe' }, 'DEMO_DATA: expected true or false, got "maybe"'],
    [{ PUBLIC_BASE_URL: 'ftp://x' }, 'PUBLIC_BASE_URL: expected an absolute http(s) URL, got "ftp://x"'],
    [{ DB_POOL_SIZE: '0' }, 'DB_POOL_SIZE: expected an integer from 1 to 200, got "0"'],
    [{ DATABASE_URL: 'postgres://u@h/db', DATABASE_DRIVER: 'neon', NEON_WS_PROXY: 'not a proxy' }, 'NEON_WS_PROXY: expected host:port[/path] of a WebSocket-to-TCP proxy, got "not a proxy"'],
  ])('rejects %j with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('never echoes a database password', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://admin:hunter2@db/x' })).toThrow('mysql://admin:***@db/x');
  });

  it('stops the gateway at start-up with one line naming the variable', () => {
    const result = spawnSync(process.execPath, ['node_modules/.bin/ts-node', '--transpile-only', 'src/main.ts'], {
      env: { ...process.env, PORT: 'eighty', DATABASE_URL: '' },
      encoding: 'utf8',
      timeout: 60000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual(['Configuration error: PORT: expected an integer from 0 to 65535, got "eighty"']);
    expect(result.stdout).toBe('');
  });
});
