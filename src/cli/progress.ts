import { SingleBar } from 'cli-progress';

/** Progress of a long-running command: update(done, total) as work completes, stop() at the end. */
export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

const SHOW_AFTER_MS = 1000;

/** Bars go to stderr, and only to a terminal outside CI: piped or CI output carries nothing but the summary. */
export function progressEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI;
  const inCi = ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
  return process.stderr.isTTY === true && !inCi;
}

/**
 * A cli-progress bar on stderr that appears only once the work has taken longer than a second, so quick
 * commands print their summary line and nothing else. The bar is cleared when stopped.
 */
export function startProgress(label: string, unit: string): Progress {
  if (!progressEnabled()) return { update() {}, stop() {} };
  let bar: SingleBar | null = null;
  let done = 0;
  let total = 0;
  const show = (): void => {
    bar = new SingleBar({
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | ETA {eta_formatted}`,
      clearOnComplete: true,
      hideCursor: true,
      etaBuffer: 50,
    });
    bar.start(Math.max(total, 1), done);
  };
  const timer = setTimeout(show, SHOW_AFTER_MS);
  timer.unref();
  return {
    update(d, t) {
      done = d;
      total = t;
      if (bar !== null) {
        bar.setTotal(Math.max(t, 1));
        bar.update(d);
      }
    },
    stop() {
      clearTimeout(timer);
      if (bar !== null) bar.stop();
    },
  };
}
