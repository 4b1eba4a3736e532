import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../tools/net.js';

export { freePort };

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The heap limits `npm start` runs the server with (server/package.json): measure what ships. */
const SERVER_NODE_FLAGS = '--max-old-space-size=256 --max-semi-space-size=16';

export interface ServerProcess {
  proc: ChildProcess;
  port: number;
  url: string;
  wsUrl: string;
  dataDir: string;
  rssMb(): number;
  /** CPU seconds (user + system) the server process has used so far. */
  cpuSeconds(): number;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

let entry: string[] | undefined;

/**
 * The server as `npm start` runs it: the bundle (server/dist/start.js), built from the working
 * tree at the first start (under a second), so the figures are those of what ships, without a
 * TypeScript loader's CPU and memory. tsx only when the bundle cannot be built; it says so.
 */
function serverEntry(): string[] {
  if (entry) return entry;
  const built = spawnSync(process.execPath, [join(ROOT, 'server/scripts/build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (built.status === 0) {
    entry = [join(ROOT, 'server/dist/start.js')];
  } else {
    console.log('server: the bundle could not be built; running the sources through tsx');
    entry = ['--import', 'tsx', join(ROOT, 'server/src/server.ts')];
  }
  return entry;
}

/** The real server as a separate process, so its memory and CPU are its own. */
export async function startServerProcess(env: Record<string, string> = {}, dataDir?: string): Promise<ServerProcess> {
  const port = await freePort();
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'gradwatch-bench-'));
  const proc = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : []), ...(process.env.BENCH_NODE_FLAGS ?? SERVER_NODE_FLAGS).split(' ').filter(Boolean), ...serverEntry()], {
    cwd: ROOT,
    env: { ...process.env, GRADWATCH_PORT: String(port), GRADWATCH_DATA_DIR: dir, GRADWATCH_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc, port, url, wsUrl: `ws://127.0.0.1:${port}`, dataDir: dir,
    rssMb: () => {
      try {
        const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
        return m ? Number(m[1]) / 1024 : Number.NaN;
      } catch {
        return Number.NaN;
      }
    },
    cpuSeconds: () => cpuSecondsOf(proc.pid),
    stop: (signal = 'SIGTERM') =>
      new Promise((res) => {
        if (proc.exitCode !== null) return res();
        proc.once('exit', () => res());
        proc.kill(signal);
      }),
  };
}

const TICKS = 100; // USER_HZ: 100 on every Linux this runs on

/** utime + stime of one process from /proc (NaN once it is gone). */
export function cpuSecondsOf(pid: number | undefined): number {
  try {
    // The command name may hold spaces: the fields counted from after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of every process named `name` (e.g. all of a PostgreSQL cluster's backends), living ones only. */
export function cpuSecondsNamed(name: string): number {
  let sum = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name) sum += cpuSecondsOf(Number(pid)) || 0;
    } catch {
      // gone meanwhile
    }
  }
  return sum;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
