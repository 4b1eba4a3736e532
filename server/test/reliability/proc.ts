import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export { freePort } from '../../../tools/net.js';

export interface Proc {
  proc: ChildProcess;
  url: string;
  wsUrl: string;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * The real server (src/server.ts) as a child process on a given port and data dir, so it can be
 * SIGKILLed and restarted in place: clients reconnect to the same address.
 */
export async function startProc(
  dataDir: string, port: number, env: Record<string, string> = {}, quiet = true,
  /** Node's arguments: the sources through tsx unless told (the bundle, say). */
  args: readonly string[] = ['--import', 'tsx', join(ROOT, 'server/src/server.ts')],
): Promise<Proc> {
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, GRADWATCH_PORT: String(port), GRADWATCH_DATA_DIR: dataDir, GRADWATCH_LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
  });
  const exited = new Promise<number | string>((r) => proc.once('exit', (code, sig) => r(code ?? sig ?? -1)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`server exited with ${proc.exitCode ?? proc.signalCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    if (i > 600) throw new Error('server did not start in 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc, url, wsUrl: `ws://127.0.0.1:${port}`, exited,
    kill: (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
