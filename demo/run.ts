/**
 * `npm run demo`: starts a server if none answers, then trains three small networks for real —
 * a healthy one, one whose learning rate is far too high (it ends in NaN) and a deep sigmoid
 * net whose gradients vanish — streaming each step live so the dashboard fills within a minute.
 *
 *   GRADWATCH_URL=http://host:port npm run demo   (default http://127.0.0.1:8080)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IngestClient } from '@gradwatch/client';
import { SCENARIOS, type Scenario } from '../tools/tiny-train/scenarios.js';
import { train } from '../tools/tiny-train/train.js';
import { evalItem, modelOf, stepItem } from '../tools/tiny-train/wire.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const URL_ = (process.env.GRADWATCH_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
const STEP_MS = Number(process.env.DEMO_STEP_MS ?? 60);
const DEMOS = ['healthy-adam-relu', 'fault-lr-nan', 'fault-deep-sigmoid'];

async function healthy(): Promise<boolean> {
  try {
    return (await fetch(`${URL_}/healthz`)).ok;
  } catch {
    return false;
  }
}

async function ensureServer(): Promise<ChildProcess | null> {
  if (await healthy()) return null;
  if (!existsSync(join(ROOT, 'dashboard/dist/index.html'))) {
    console.log('Building the dashboard...');
    spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  const port = new URL(URL_).port || '8080';
  console.log(`Starting gradwatch on ${URL_} (data in ./data)...`);
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/src/server.ts')], {
    cwd: ROOT, env: { ...process.env, GRADWATCH_PORT: port, GRADWATCH_LOG_LEVEL: 'warn' }, stdio: 'inherit',
  });
  for (let i = 0; i < 200 && !(await healthy()); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await healthy())) throw new Error(`the server did not come up on ${URL_}`);
  return proc;
}

async function stream(sc: Scenario, stamp: string): Promise<void> {
  const runId = `demo-${stamp}-${sc.name}`;
  let client: IngestClient | null = null;
  let names: string[] = [];
  for (const ev of train(sc)) {
    if (ev.kind === 'start') {
      names = ev.header.model.layers.map((l) => l.name);
      client = new IngestClient({
        url: URL_.replace(/^http/, 'ws'),
        run: { ...ev.header.hello, id: runId, project: 'demo', name: `${sc.name}`, tags: ['demo'] },
        token: process.env.GRADWATCH_TOKEN,
        flushMs: 20,
      });
      client.on('alert', (a) => {
        if (a.status === 'open') console.log(`  [${a.severity}] ${sc.name}: ${a.rule}${a.layer ? ` (${a.layer})` : ''} at step ${a.firstStep} — ${a.advice}`);
      });
      await client.connect();
      client.model(modelOf(ev.header));
      continue;
    }
    if (!client) continue;
    if (ev.kind === 'step') {
      client.step({ ...stepItem(ev.row, names), time: Date.now() / 1000, examples: sc.batch });
      await new Promise((r) => setTimeout(r, STEP_MS));
    } else client.eval(evalItem(ev.row));
  }
  if (client) {
    await client.end('completed');
    client.close();
  }
}

const server = await ensureServer();
const stamp = new Date().toISOString().slice(11, 19).replace(/:/g, '');
console.log(`Open ${URL_}/ to watch. Training ${DEMOS.join(', ')}...`);
const scenarios = DEMOS.map((n) => SCENARIOS.find((s) => s.name === n)).filter((s): s is Scenario => s !== undefined);
await Promise.all(scenarios.map((sc) => stream(sc, stamp)));
console.log(`Done. The runs stay in the dashboard${server ? '; the server keeps running (Ctrl-C to stop)' : ''}.`);
