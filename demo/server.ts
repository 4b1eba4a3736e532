/**
 * What the demo asks of the server before it streams: a server that answers (one is started when
 * none does), the demo project's stopping rule, and a clean slate for the demo's own runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface Target {
  url: string;
  token: string | undefined;
  root: string;
}

const headers = (t: Target, json = false): Record<string, string> => ({
  ...(t.token ? { authorization: `Bearer ${t.token}` } : {}),
  ...(json ? { 'content-type': 'application/json' } : {}),
});

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`)).ok;
  } catch {
    return false;
  }
}

/** Starts a server on the URL's port when none answers there; returns it (null when one was running). */
export async function ensureServer(t: Target): Promise<ChildProcess | null> {
  if (await healthy(t.url)) return null;
  if (!existsSync(join(t.root, 'dashboard/dist/index.html'))) {
    console.log('Building the dashboard...');
    spawnSync('npm', ['run', 'build'], { cwd: t.root, stdio: 'inherit' });
  }
  const port = new URL(t.url).port || '8080';
  console.log(`Starting gradwatch on ${t.url} (data in ./data)...`);
  const proc = spawn(process.execPath, ['--import', 'tsx', join(t.root, 'server/src/server.ts')], {
    cwd: t.root, env: { ...process.env, GRADWATCH_PORT: port, GRADWATCH_LOG_LEVEL: 'warn' }, stdio: 'inherit',
  });
  for (let i = 0; i < 200 && !(await healthy(t.url)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await healthy(t.url))) throw new Error(`the server did not come up on ${t.url}`);
  return proc;
}

/**
 * Marks `nan.detected` as stopping for the demo project, keeping its other settings: the diverging
 * run then gets `command stop` and ends as `stopped`, as a real job watching gradwatch would.
 */
export async function stopOnNaN(t: Target, project: string): Promise<void> {
  const url = `${t.url}/api/v1/projects/${project}/rules`;
  const cur = await fetch(url, { headers: headers(t) });
  const settings = cur.ok ? ((await cur.json()) as { settings: Record<string, Record<string, unknown>> }).settings : {};
  settings['nan.detected'] = { ...settings['nan.detected'], stop: true };
  const res = await fetch(url, { method: 'PUT', headers: headers(t, true), body: JSON.stringify(settings) });
  if (res.ok) console.log(`Project ${project}: a NaN stops the run (rule nan.detected, stop: true).`);
  else console.log(`Project ${project}: could not mark nan.detected as stopping (${res.status}); runs will not be stopped.`);
}

/** Deletes a run left by an earlier demo, so each demo run starts fresh under the same id. */
export async function deleteRun(t: Target, id: string): Promise<void> {
  const res = await fetch(`${t.url}/api/v1/runs/${encodeURIComponent(id)}`, { method: 'DELETE', headers: headers(t) });
  if (!res.ok && res.status !== 404) throw new Error(`could not replace the earlier demo run ${id}: DELETE answered ${res.status}`);
}
