/**
 * Durability: SIGTERM commits and acks what is pending before the sockets close; a full or
 * read-only database answers `retry` while reads keep working and the TS client backs off and
 * re-sends; `npm run backup` copies a live database consistently; retention prunes old runs;
 * the token CLI works on the database file.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { IngestClient } from '@gradwatch/client';
import { getJson, removeDir, startServer, tempDir } from '../helpers.js';
import { freePort, ROOT, startProc } from './proc.js';
import { sqliteOf } from '../sqlite-access.js';

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function exportSeries(url: string, run: string, name: string): Promise<Array<[number, number | string]>> {
  const r = await getJson<{ points: Array<[number, number | string]> }>(`${url}/api/v1/runs/${run}/series/export?name=${encodeURIComponent(name)}`);
  return r.status === 200 ? r.body.points : [];
}

describe('SIGTERM', () => {
  it('commits and acks every pending batch before closing the sockets', async () => {
    const dir = tempDir();
    const port = await freePort();
    const p = await startProc(dir, port);
    const ws = new WebSocket(`${p.wsUrl}/v1/ingest`);
    const got: Array<{ type: string; seq?: number; code?: string }> = [];
    let closeCode = 0;
    const closed = new Promise<void>((r) => ws.on('close', (c) => ((closeCode = c), r())));
    let firstAck: () => void = () => undefined;
    const acked = new Promise<void>((r) => (firstAck = r));
    ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString()) as { type: string; seq?: number };
      got.push(m);
      if (m.type === 'ack') firstAck();
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'hello', protocol: 1, run: { id: 'term-1', project: 'p', name: 'term' } }));
    const n = 600;
    for (let i = 1; i <= n; i++) {
      const items = Array.from({ length: 5 }, (_, k) => ({ step: (i - 1) * 5 + k, scalars: { loss: i + k / 10, lr: 1e-3 } }));
      ws.send(JSON.stringify({ type: 'steps', seq: i, items }));
    }
    await acked;
    const code = await p.kill('SIGTERM');
    await closed;
    expect(code).toBe(0);
    const acks = got.filter((m) => m.type === 'ack').map((m) => m.seq as number);
    expect(acks.length).toBeGreaterThan(0);
    expect(acks).toEqual(acks.map((_, i) => i + 1));
    expect(got.find((m) => m.type === 'error')).toMatchObject({ code: 'shutdown' });
    expect(closeCode).toBe(1001);

    // Everything committed was acked, and everything acked was committed.
    const p2 = await startProc(dir, port);
    const run = await getJson<{ lastSeq: number }>(`${p2.url}/api/v1/runs/term-1`);
    expect(run.body.lastSeq).toBe(acks.length);
    expect((await exportSeries(p2.url, 'term-1', 'loss')).length).toBe(acks.length * 5);
    await p2.kill();
    removeDir(dir);
  });
});

describe('a full or read-only database', () => {
  for (const mode of ['full', 'read-only'] as const) {
    it(`answers ingest with retry (${mode}), keeps serving reads, and the TS client backs off and re-sends`, async () => {
      const srv = await startServer({ env: { GRADWATCH_SYNCHRONOUS: 'NORMAL' } });
      const sqlite = sqliteOf(srv.app);
      const client = new IngestClient({ url: srv.wsUrl, run: { id: `df-${mode}`, project: 'p', name: 'disk' }, batchSize: 20, flushMs: 5, maxBackoffMs: 800 });
      await client.connect();
      const value = (s: number) => Math.sin(s * 0.37) * 1e3 + s / 7;
      let step = 0;
      const send = (k: number) => {
        for (let i = 0; i < k; i++, step++) client.step({ step, scalars: { loss: value(step), big: 1e308 / (step + 1) } });
      };
      send(400);
      await client.flush();
      // Break the disk: no page may be added (SQLITE_FULL), or no write is allowed (SQLITE_READONLY).
      const pages = sqlite.pragma('page_count', { simple: true }) as number;
      if (mode === 'full') sqlite.pragma(`max_page_count = ${pages}`);
      else sqlite.pragma('query_only = 1');
      const retriesBefore = client.retries;
      for (let i = 0; i < 20 && client.retries === retriesBefore; i++) {
        send(400);
        await sleep(100);
      }
      expect(client.retries).toBeGreaterThan(retriesBefore);
      // A write may still fit in the free space of the pages there, and its retry succeed:
      // write on until the client is left holding messages the server keeps refusing.
      const stuck = async () => {
        const r = client.retries;
        await sleep(1000);
        return client.unacked > 0 && client.retries > r;
      };
      for (let i = 0; i < 10 && !(await stuck()); i++) send(400);
      // A job connecting now is told to retry its hello; the server does not fall over.
      const fresh = new WebSocket(`${srv.wsUrl}/v1/ingest`);
      const freshAnswer = new Promise<{ type: string; code?: string }>((r) => fresh.once('message', (d: Buffer) => r(JSON.parse(d.toString()) as { type: string })));
      await new Promise((r) => fresh.once('open', r));
      fresh.send(JSON.stringify({ type: 'hello', protocol: 1, run: { id: `df-new-${mode}`, project: 'p2', name: 'new' } }));
      const a = await freshAnswer;
      // Full: a run row may still fit in a free page; read-only: nothing can be written.
      if (mode === 'full' && a.type === 'welcome') expect(a).toMatchObject({ type: 'welcome' });
      else expect(a).toMatchObject({ type: 'error', code: 'retry' });
      fresh.close();
      // Reads keep working while writes fail.
      const q = await getJson<{ series: unknown[] }>(`${srv.url}/api/v1/runs/df-${mode}/query?series=loss&maxPoints=10`);
      expect(q.status).toBe(200);
      expect((await getJson(`${srv.url}/api/v1/runs/df-${mode}`)).status).toBe(200);
      // The client backs off (doubling, capped at 800 ms) rather than hammering the server.
      const r0 = client.retries;
      await sleep(2000);
      expect(client.retries - r0).toBeLessThanOrEqual(5);
      expect(client.unacked).toBeGreaterThan(0);
      // Repair: everything the client kept is stored, exactly once, with its value.
      if (mode === 'full') sqlite.pragma('max_page_count = 1073741823');
      else sqlite.pragma('query_only = 0');
      send(100);
      await client.flush(30_000);
      expect(client.rejected).toEqual([]);
      const pts = await exportSeries(srv.url, `df-${mode}`, 'loss');
      expect(pts.length).toBe(step);
      expect(pts.every(([s, v], i) => s === i && v === value(i))).toBe(true);
      expect(sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
      client.close();
      await srv.close();
      removeDir(srv.dataDir);
    });
  }
});

describe('backup', () => {
  it('takes a consistent copy of a database being written to', async () => {
    const srv = await startServer({ env: { GRADWATCH_SYNCHRONOUS: 'NORMAL' } });
    const client = new IngestClient({ url: srv.wsUrl, run: { id: 'bk-1', project: 'p', name: 'backup' }, batchSize: 50, flushMs: 5 });
    await client.connect();
    let step = 0;
    let streaming = true;
    const pump = (async () => {
      while (streaming) {
        for (let i = 0; i < 200; i++, step++) client.step({ step, scalars: { loss: step * 2, acc: step / 3 } });
        await sleep(10);
      }
    })();
    await sleep(300);
    const dest = join(tempDir(), 'copy.db');
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', join(ROOT, 'server/src/cli/backup.ts'), dest, '--data-dir', srv.dataDir], { cwd: ROOT });
    streaming = false;
    await pump;
    await client.flush();
    expect(stdout).toMatch(/backed up .* 1 runs/);
    const copy = new Database(dest, { readonly: true });
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    const steps = (copy.prepare('SELECT (SELECT coalesce(sum(count), 0) FROM step_blocks) + (SELECT count(*) FROM step_tail WHERE indexed = 0) AS n').get() as { n: number }).n;
    const lastSeq = (copy.prepare("SELECT last_seq AS s FROM runs WHERE uid = 'bk-1'").get() as { s: number }).s;
    copy.close();
    // One commit's view: a prefix of the stream, and the run's lastSeq agrees with the steps in it.
    expect(steps).toBeGreaterThan(0);
    expect(steps).toBeLessThanOrEqual(step);
    expect(steps % 50 === 0 || lastSeq > 0).toBe(true);
    // The copy is a working gradwatch database.
    const restoreDir = tempDir();
    await exec('cp', [dest, join(restoreDir, 'gradwatch.db')]);
    const restored = await startServer({ dataDir: restoreDir });
    expect((await exportSeries(restored.url, 'bk-1', 'loss')).length).toBe(steps);
    await restored.close();
    removeDir(restoreDir);
    // It refuses to overwrite without --force.
    await expect(exec(process.execPath, ['--import', 'tsx', join(ROOT, 'server/src/cli/backup.ts'), dest, '--data-dir', srv.dataDir], { cwd: ROOT })).rejects.toThrow(/--force/);
    client.close();
    await srv.close();
    removeDir(srv.dataDir);
  });
});

describe('retention', () => {
  it('prunes runs whose last activity is older than the period, at start and on demand, keeping connected ones', async () => {
    const dir = tempDir();
    let srv = await startServer({ dataDir: dir });
    for (const id of ['old-1', 'old-2', 'new-1', 'old-live']) {
      const c = new IngestClient({ url: srv.wsUrl, run: { id, project: 'p', name: id } });
      await c.connect();
      c.step({ step: 0, scalars: { loss: 1 } });
      c.hist({ step: 0, layer: 'fc', of: 'param', edges: [0, 1], counts: [1] });
      await c.flush();
      if (id !== 'old-live') c.close();
      else {
        // Stays connected through the prune below.
        sqliteOf(srv.app).prepare("UPDATE runs SET last_seen_at = '2020-01-01T00:00:00.000Z' WHERE uid = ?").run(id);
        expect(await srv.app.runs.pruneInactive(30)).toBe(0);
        c.close();
      }
    }
    await sleep(100);
    const age = sqliteOf(srv.app).prepare('UPDATE runs SET last_seen_at = ?, ended_at = ? WHERE uid = ?');
    const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString();
    age.run(daysAgo(40), daysAgo(40), 'old-1');
    age.run(daysAgo(31), null, 'old-2');
    age.run(daysAgo(29), null, 'new-1');
    await srv.close();
    // At start, with a 30-day period.
    srv = await startServer({ dataDir: dir, env: { GRADWATCH_RETENTION_DAYS: '30' } });
    const runs = await getJson<{ runs: Array<{ id: string }> }>(`${srv.url}/api/v1/runs`);
    expect(runs.body.runs.map((r) => r.id).sort()).toEqual(['new-1']);
    const left = sqliteOf(srv.app).prepare('SELECT (SELECT count(*) FROM histograms) AS h, (SELECT count(*) FROM series) AS s, (SELECT count(*) FROM step_tail) AS st, (SELECT count(*) FROM step_blocks) AS sb').get();
    expect(left).toEqual({ h: 1, s: 1, st: 1, sb: 0 });
    expect(await srv.app.runs.pruneInactive(28)).toBe(1);
    await srv.close();
    removeDir(dir);
  });
});

describe('token CLI', () => {
  it('creates, lists and revokes tokens on the database file', async () => {
    const dir = tempDir();
    const cli = (...args: string[]) => exec(process.execPath, ['--import', 'tsx', join(ROOT, 'server/src/cli/token.ts'), ...args, '--data-dir', dir], { cwd: ROOT });
    const created = JSON.parse((await cli('create', '--scope', 'ingest', '--project', 'x', '--json')).stdout) as { id: number; token: string; scope: string; project: string };
    expect(created).toMatchObject({ scope: 'ingest', project: 'x' });
    expect(existsSync(join(dir, 'gradwatch.db'))).toBe(true);
    expect((await cli('list')).stdout).toMatch(/ingest\s+x\s+gw_/);
    await expect(cli('create', '--scope', 'root')).rejects.toThrow(/--scope must be one of/);
    const srv = await startServer({ dataDir: dir, env: { GRADWATCH_ADMIN_TOKEN: 'bootstrap-admin-token-0123456789' } });
    const c = new IngestClient({ url: srv.wsUrl, token: created.token, run: { id: 'cli-1', project: 'x', name: 'cli' } });
    await c.connect();
    c.close();
    // Revoked by the CLI while the server runs: refused at once.
    await cli('revoke', String(created.id));
    const ws = new WebSocket(`${srv.wsUrl}/v1/ingest`);
    const answer = new Promise<{ code: string }>((r) => ws.on('message', (d: Buffer) => r(JSON.parse(d.toString()) as { code: string })));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'hello', protocol: 1, token: created.token, run: { id: 'cli-1', project: 'x', name: 'cli' } }));
    expect(await answer).toMatchObject({ code: 'unauthorized' });
    ws.close();
    await srv.close();
    removeDir(dir);
  });
});
