/**
 * `npm run demo`: starts a server if none answers, then trains three small networks for real —
 * a healthy one, one whose learning rate is far too high (it ends in NaN and gradwatch stops it)
 * and a deep sigmoid net whose gradients vanish — streaming each step, the layer statistics and
 * histograms live so the dashboard fills within a minute. The runs are demo-<scenario>; a later
 * demo replaces them.
 *
 *   GRADWATCH_URL=http://host:port npm run demo   (default http://127.0.0.1:8080)
 *   GRADWATCH_TOKEN=<admin token>                  when the server has authentication on
 *   DEMO_STEP_MS=60                                pause between steps
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IngestClient } from '@gradwatch/client';
import { SCENARIOS, type Scenario } from '../tools/tiny-train/scenarios.js';
import { train } from '../tools/tiny-train/train.js';
import { evalItem, modelOf, stepItem } from '../tools/tiny-train/wire.js';
import { deleteRun, ensureServer, stopOnNaN, type Target } from './server.js';

const target: Target = {
  url: (process.env.GRADWATCH_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, ''),
  token: process.env.GRADWATCH_TOKEN,
  root: resolve(dirname(fileURLToPath(import.meta.url)), '..'),
};
const STEP_MS = Number(process.env.DEMO_STEP_MS ?? 60);
const PROJECT = 'demo';
const DEMOS = ['healthy-adam-relu', 'fault-lr-nan', 'fault-deep-sigmoid'];
/** Histograms of every layer's weights, gradients, updates and activations, for the Layers page. */
const HIST_EVERY = 10;

async function stream(sc: Scenario): Promise<void> {
  const runId = `demo-${sc.name}`;
  await deleteRun(target, runId);
  let client: IngestClient | null = null;
  let names: string[] = [];
  let last = -1;
  // A real job trains on after a NaN until something stops it: here, gradwatch.
  for (const ev of train(sc, { histEvery: HIST_EVERY, continueAfterNaN: true })) {
    if (ev.kind === 'start') {
      names = ev.header.model.layers.map((l) => l.name);
      client = new IngestClient({
        url: target.url.replace(/^http/, 'ws'),
        run: { ...ev.header.hello, id: runId, project: PROJECT, name: sc.name, tags: ['demo'] },
        ...(target.token ? { token: target.token } : {}),
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
      if (client.stopRequested) break;
      client.step({ ...stepItem(ev.row, names), time: Date.now() / 1000, examples: sc.batch });
      last = ev.row[0];
      await new Promise((r) => setTimeout(r, STEP_MS));
    } else if (ev.kind === 'eval') client.eval(evalItem(ev.row));
    else client.hist({ step: ev.step, layer: names[ev.layer] ?? `layer${ev.layer}`, of: ev.of, ...ev.hist });
  }
  if (!client) return;
  const report = await client.end();
  client.close();
  const why = report.status === 'stopped' ? ` by gradwatch (${client.stopReason?.split(':')[0] ?? 'stop'})` : '';
  console.log(`  ${sc.name}: ${report.status}${why} after ${last + 1} of ${sc.steps} steps — run ${runId}`);
}

const server = await ensureServer(target);
await stopOnNaN(target, PROJECT);
console.log(`Open ${target.url}/ to watch. Training ${DEMOS.join(', ')}...`);
const scenarios = DEMOS.map((n) => SCENARIOS.find((s) => s.name === n)).filter((s): s is Scenario => s !== undefined);
await Promise.all(scenarios.map((sc) => stream(sc)));
console.log(`Done. The runs stay in the dashboard${server ? '; the server keeps running (Ctrl-C to stop)' : ''}.`);
