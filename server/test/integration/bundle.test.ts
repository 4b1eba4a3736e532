/**
 * The production server, as `npm start` runs it: server/dist/start.js and the bundle it loads,
 * server/dist/server.js, built here by scripts/build.mjs with the npm packages bundled in.
 * Bundling can break a package quietly (one that reads its own files, a require() inside an ES
 * module), so this drives the parts that could: both frame encodings end to end, the API docs
 * and their UI, the dashboard's REST.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, hello, RawSocket, removeDir, tempDir } from '../helpers.js';
import { freePort, ROOT, startProc, type Proc } from '../reliability/proc.js';

let srv: Proc;
let dataDir = '';
let startMs = 0;

beforeAll(async () => {
  execFileSync(process.execPath, [join(ROOT, 'server/scripts/build.mjs')], { cwd: join(ROOT, 'server'), stdio: 'inherit' });
  dataDir = tempDir('gradwatch-bundle-');
  const t0 = performance.now();
  srv = await startProc(dataDir, await freePort(), {}, true, ['--max-old-space-size=256', '--max-semi-space-size=16', join(ROOT, 'server/dist/start.js')]);
  startMs = performance.now() - t0;
}, 120_000);

afterAll(async () => {
  if (srv) expect(await srv.kill('SIGTERM')).toBe(0);
  removeDir(dataDir);
});

const exportOf = async (run: string, name: string) =>
  (await getJson<{ points: unknown[] }>(`${srv.url}/api/v1/runs/${run}/series/export?name=${encodeURIComponent(name)}`)).body.points;

describe('the bundled server (dist/start.js)', () => {
  it('starts and answers health', async () => {
    console.log(`bundled server: /healthz answered ${Math.round(startMs)} ms after the spawn`);
    expect((await getJson(`${srv.url}/healthz`)).status).toBe(200);
  });

  it('stores steps sent as JSON text and as MessagePack frames, NaN included, and reads them back', async () => {
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(hello('bundle-run', { encodings: ['msgpack'] }));
    expect(await s.next((m) => m.type === 'welcome')).toMatchObject({ encoding: 'msgpack' });
    s.send({ type: 'steps', seq: 1, items: [{ step: 0, scalars: { loss: 2 } }, { step: 1, scalars: { loss: 'NaN' } }] });
    await s.ack(1);
    s.ws.send(new Packr({ useRecords: false }).pack({ type: 'steps', seq: 2, items: [{ step: 2, scalars: { loss: 0.5, lr: 0.1 } }] }));
    await s.ack(2);
    s.close();
    expect(await exportOf('bundle-run', 'loss')).toEqual([[0, 2], [1, 'NaN'], [2, 0.5]]);
    const runs = await getJson<{ runs: Array<{ id: string }> }>(`${srv.url}/api/v1/runs`);
    expect(runs.status).toBe(200);
    expect(runs.body.runs.map((r) => r.id)).toContain('bundle-run');
  });

  it('serves the OpenAPI document and its UI, which read files of their own packages', async () => {
    const doc = await getJson<{ openapi: string; paths: Record<string, unknown> }>(`${srv.url}/docs/json`);
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.body.paths)).toContain('/api/v1/runs');
    const ui = await fetch(`${srv.url}/docs/static/index.html`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toMatch(/swagger/i);
  });
});
