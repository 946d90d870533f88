import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';

/** Where the gateway's thread spends its time: self time by function, as a share of the profile. */
export interface ProfileSummary {
  file: string;
  /** Share of samples in which the thread was idle (waiting for I/O). */
  idle: number;
  garbageCollection: number;
  top: { fn: string; share: number }[];
  /** Self time grouped by package (or "node:" internals, or the project's own files). */
  byPackage: { name: string; share: number }[];
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * A V8 CPU profile of this thread (the gateway's: the load generator runs in a worker) for the duration of
 * `work`, written as a .cpuprofile (open it in Chrome DevTools) and summarized.
 */
export async function profiled<T>(file: string, work: () => Promise<T>): Promise<{ result: T; summary: ProfileSummary }> {
  const session = new inspector.Session();
  session.connect();
  const post = <R>(method: string, params?: object) =>
    new Promise<R>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as R))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 500 });
  await post('Profiler.start');
  let result!: T;
  let profile!: CpuProfile;
  try {
    result = await work();
  } finally {
    profile = (await post<{ profile: CpuProfile }>('Profiler.stop')).profile;
    session.disconnect();
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(profile));
  return { result, summary: summarize(profile, file) };
}

function packageOf(url: string): string {
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return 'node';
  const i = url.lastIndexOf('/node_modules/');
  if (i >= 0) {
    const rest = url.slice(i + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const m = /\/work\/[^/]+\/(.*)$/.exec(url.replace(/^file:\/\//, ''));
  return m ? m[1].split('/').slice(0, 2).join('/') : url;
}

function summarize(profile: CpuProfile, file: string): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const fns = new Map<string, number>();
  const pkgs = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  for (const [id, t] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') {
      idle += t;
      continue;
    }
    if (functionName === '(garbage collector)') gc += t;
    const where = url ? `${url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/\/work\/[^/]+\//, '')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + t);
    const pkg = packageOf(url);
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + t);
  }
  const share = (t: number) => (total > 0 ? t / total : 0);
  return {
    file,
    idle: share(idle),
    garbageCollection: share(gc),
    top: [...fns].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([fn, t]) => ({ fn, share: share(t) })),
    byPackage: [...pkgs].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([name, t]) => ({ name, share: share(t) })),
  };
}
