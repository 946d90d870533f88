import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout, or rejects when the child exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited(): Promise<number | null>;
}

/** Runs a TypeScript entry point the way `npm start` / `npm run cli` do, with a clean environment. */
export function runTs(entry: string, args: string[], env: Record<string, string>): Child {
  const base = { ...process.env };
  for (const name of ['DATABASE_URL', 'DATABASE_DRIVER', 'DATA_DIR', 'NEON_WS_PROXY', 'PORT', 'DEMO_DATA', 'PUBLIC_BASE_URL', 'AUTH_EXTERNAL_ISSUER', 'AUTH_EXTERNAL_JWKS_URI', 'AUTH_AUDIENCE']) {
    delete base[name];
  }
  const child = spawn(process.execPath, ['node_modules/.bin/ts-node', '--transpile-only', entry, ...args], {
    env: { ...base, LOG_LEVEL: 'warn', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited: () => exit,
    waitFor(pattern, timeoutMs = 90000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`timed out waiting for ${pattern}; stdout: ${out}; stderr: ${err}`)), timeoutMs);
        const check = () => {
          const m = out.match(pattern);
          if (m) done(null, m);
        };
        const onExit = (code: number | null) => done(new Error(`exited with ${code} before ${pattern}; stdout: ${out}; stderr: ${err}`));
        function done(e: Error | null, m?: RegExpMatchArray) {
          clearTimeout(timer);
          child.stdout.off('data', check);
          child.off('exit', onExit);
          if (e) reject(e);
          else resolve(m!);
        }
        child.stdout.on('data', check);
        child.on('exit', onExit);
        check();
      });
    },
  };
}
