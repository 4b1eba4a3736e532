/**
 * Nothing of one project reaches another through a run id they share in time: a live
 * subscription ends when its run is deleted (so a run re-created under the same id in another
 * project is not streamed to it), and a hello naming another project's run id is refused
 * without naming that project.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hello, RawSocket, removeDir } from '../helpers.js';
import { startTenants, type Tenants } from './tenants.js';

let t: Tenants;

beforeAll(async () => {
  t = await startTenants();
});

afterAll(async () => {
  await t.srv.close();
  removeDir(t.srv.dataDir);
});

const is = (type: string) => (m: { type: string }) => m.type === type;
const step = (seq: number) => ({ type: 'steps', seq, items: [{ step: seq, time: 1_800_000_000 + seq, epoch: 0, scalars: { loss: 1 / seq } }] });

async function openIngest(run: string, project: string, token: string): Promise<{ s: RawSocket; seq: number }> {
  const s = await RawSocket.open(`${t.srv.wsUrl}/v1/ingest`);
  s.send(hello(run, { token, run: { id: run, project, name: run } }));
  const w = (await s.next((m) => m.type === 'welcome')) as { lastSeq: number };
  return { s, seq: w.lastSeq };
}

describe('run ids reused across projects', () => {
  it('ends a live subscription when its run is deleted, so the id re-created in another project streams nothing to it', async () => {
    for (const token of [t.tok.readA, t.tok.admin]) {
      const a = await openIngest('reused', 'pa', t.tok.ingestA);
      const live = await RawSocket.open(`${t.srv.wsUrl}/v1/live?token=${token}`);
      live.send({ type: 'subscribe', runs: ['reused'] });
      await live.next(is('ready'));
      a.s.send(step(a.seq + 1));
      await a.s.ack(a.seq + 1);
      await live.next(is('points'));
      a.s.close();

      expect((await t.call('DELETE', '/api/v1/runs/reused', t.tok.adminA)).status).toBe(204);
      expect(await live.error()).toMatchObject({ code: 'not_found', message: expect.stringMatching(/reused was deleted/) });

      const b = await openIngest('reused', 'pb', t.tok.ingestB);
      for (let i = 1; i <= 3; i++) {
        b.s.send(step(b.seq + i));
        await b.s.ack(b.seq + i);
      }
      await new Promise((r) => setTimeout(r, 400));
      expect(live.received.filter(is('points')), 'points of project pb reached a subscription made in pa').toEqual([]);
      b.s.close();
      // Subscribing again checks access anew: pb's run is not open to pa's token.
      if (token === t.tok.readA) {
        live.send({ type: 'subscribe', runs: ['reused'] });
        expect(await live.next(is('error'))).toMatchObject({ code: 'forbidden' });
      }
      live.close();
      expect((await t.call('DELETE', '/api/v1/runs/reused', t.tok.adminB)).status).toBe(204);
    }
  });

  it('ends subscriptions of every run of a deleted project, and leaves other runs streaming', async () => {
    const gone = await openIngest('gone-1', 'pgone', t.tok.admin);
    const kept = await openIngest('kept-1', 'pa', t.tok.ingestA);
    const live = await RawSocket.open(`${t.srv.wsUrl}/v1/live?token=${t.tok.admin}`);
    live.send({ type: 'subscribe', runs: ['gone-1', 'kept-1'] });
    await live.next(is('ready'));
    gone.s.close();
    expect((await t.call('DELETE', '/api/v1/projects/pgone', t.tok.admin)).status).toBe(204);
    expect(await live.error()).toMatchObject({ code: 'not_found', message: expect.stringMatching(/gone-1/) });
    kept.s.send(step(kept.seq + 1));
    await kept.s.ack(kept.seq + 1);
    expect(await live.next(is('points'))).toMatchObject({ runId: 'kept-1' });
    live.close();
    kept.s.close();
  });
});

describe('a hello naming another project\'s run id', () => {
  it('is refused without naming the project the run belongs to, whoever asks', async () => {
    await t.ingestRun('taken-1', 'pa', t.tok.ingestA);
    for (const token of [t.tok.ingestB, t.tok.admin]) {
      const s = await RawSocket.open(`${t.srv.wsUrl}/v1/ingest`);
      s.send(hello('taken-1', { token, run: { id: 'taken-1', project: 'pb', name: 'steal' } }));
      const err = (await s.error()) as { code: string; message: string };
      expect(err.message).toMatch(/taken-1/);
      expect(err.code).toBe('forbidden');
      expect(err.message, err.message).not.toMatch(/\bpa\b/);
      s.close();
    }
    // The run is untouched: still pa's, with its name.
    const run = (await t.call('GET', '/api/v1/runs/taken-1', t.tok.readA)).body as { project: string; name: string };
    expect(run).toMatchObject({ project: 'pa', name: 'taken-1' });
  });
});
