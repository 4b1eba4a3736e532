import { bucketColumns, type Bucket } from '@gradwatch/shared';
import { flushSync } from 'svelte';
import { describe, expect, it } from 'vitest';
import { POINTS_EVERY_MS } from '../socket';
import { fakeLive } from '../testing/fake-ws';
import { RunSeries, type Query } from './run-series.svelte';

const bucket = (s: number, v: number | 'NaN'): Bucket => ({
  fromStep: s, toStep: s, count: 1, min: typeof v === 'number' ? v : null, max: typeof v === 'number' ? v : null, last: v,
  nan: v === 'NaN' ? 1 : 0, posInf: 0, negInf: 0,
});
const info = (names: string[]) => names.map((name) => ({ name, count: 3, firstStep: 0, lastStep: 2, firstNonFiniteStep: null }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Long enough for the socket to hand on a points frame. */
const frame = () => sleep(POINTS_EVERY_MS + 30);

/** A server's query endpoint: every series holds steps 0..last; answers after delayMs. */
function fakeQuery(opts: { delayMs?: number; last?: () => number } = {}) {
  const calls: Array<{ names: readonly string[]; from?: number; to?: number; at: number }> = [];
  const q: Query = async (_id, names, o = {}) => {
    calls.push({ names, at: performance.now(), ...(o.from !== undefined ? { from: o.from } : {}), ...(o.to !== undefined ? { to: o.to } : {}) });
    const last = opts.last?.() ?? 2;
    if (opts.delayMs) await sleep(opts.delayMs);
    return names.map((name) =>
      bucketColumns(name, null, Array.from({ length: last + 1 }, (_, s) => bucket(s, s + 1)).filter((b) => (o.from ?? 0) <= b.toStep && b.toStep <= (o.to ?? Infinity))),
    );
  };
  return { q, calls };
}

function setup(opts: { delayMs?: number; last?: () => number; open?: boolean } = {}) {
  const f = fakeLive({ autoReady: true });
  const { q, calls } = fakeQuery(opts);
  const rs = new RunSeries(f.live, { maxPoints: 100, query: q, syncWaitMs: 200 });
  return { ...f, rs, calls, send: (series: Record<string, Array<[number, number | 'NaN']>>) => f.sockets[0]?.recv({ type: 'points', runId: 'r1', series }) };
}

const steps = (rs: RunSeries, name = 'loss') => rs.bins(name).map((b) => b.toStep);

describe('RunSeries', () => {
  it('subscribes first and queries only once the server holds the subscription', async () => {
    const { rs, calls, sockets } = setup();
    rs.show('r1', ['loss'], info(['loss']));
    await sleep(20);
    expect(calls).toHaveLength(0);
    sockets[0]?.open();
    await sleep(20);
    expect(sockets[0]?.sent).toEqual([{ type: 'subscribe', runs: ['r1'], series: ['loss'] }]);
    expect(calls.map((c) => c.names)).toEqual([['loss']]);
    rs.close();
  });

  it('merges by step the points logged while the first query is out: none lost, none twice', async () => {
    // The server commits step 3 after the query read steps 0..2, and sends steps 2 and 3 live.
    const { rs, sockets, send } = setup({ delayMs: 60 });
    rs.show('r1', ['loss', 'lr'], info(['loss', 'lr']));
    sockets[0]?.open();
    await sleep(20);
    send({ loss: [[2, 3], [3, 4]], lr: [[3, 1]] });
    await sleep(120);
    expect(steps(rs)).toEqual([0, 1, 2, 3]);
    expect(steps(rs, 'lr')).toEqual([0, 1, 2, 3]);
    rs.close();
  });

  it('loads only series that are wanted and exist, once each, and appends live points after', async () => {
    const { rs, calls, sockets, send } = setup();
    rs.show('r1', ['loss', 'eval/val/loss'], info(['loss', 'lr']));
    sockets[0]?.open();
    await sleep(20);
    rs.show('r1', ['loss', 'lr'], info(['loss', 'lr']));
    rs.show('r1', ['loss', 'lr'], info(['loss', 'lr']));
    await sleep(20);
    expect(calls.map((c) => c.names)).toEqual([['loss'], ['lr']]);
    send({ loss: [[3, 9], [4, 'NaN']], other: [[3, 1]] });
    await frame();
    expect(steps(rs)).toEqual([0, 1, 2, 3, 4]);
    expect(rs.bins('loss')[4]?.nan).toBe(1);
    expect(rs.bins('other')).toEqual([]);
    expect(calls).toHaveLength(2);
    rs.close();
  });

  it('loads a series that begins after the series list was read, from its first point', async () => {
    let last = 2;
    const { rs, calls, sockets, send } = setup({ last: () => last });
    rs.show('r1', ['loss', 'eval/val/loss'], info(['loss']));
    sockets[0]?.open();
    await sleep(20);
    // The first eval was at step 2, before the list was read; step 5 arrives live.
    last = 5;
    send({ 'eval/val/loss': [[5, 0.7]] });
    await frame();
    await sleep(20);
    expect(calls.map((c) => c.names)).toEqual([['loss'], ['eval/val/loss']]);
    expect(steps(rs, 'eval/val/loss')).toEqual([0, 1, 2, 3, 4, 5]);
    rs.close();
  });

  it('re-queries the zoomed range and ignores live points while zoomed', async () => {
    const { rs, calls, sockets, send } = setup();
    rs.show('r1', ['loss'], info(['loss']));
    sockets[0]?.open();
    await sleep(20);
    await rs.zoom([1, 2]);
    expect(calls[1]).toMatchObject({ from: 1, to: 2 });
    expect(steps(rs)).toEqual([1, 2]);
    send({ loss: [[9, 1]] });
    await frame();
    expect(steps(rs)).toEqual([1, 2]);
    rs.close();
  });

  it('goes ahead without a socket after a while, and reloads once the socket opens', async () => {
    const { rs, calls, sockets } = setup();
    rs.show('r1', ['loss'], info(['loss']));
    await sleep(260);
    expect(calls).toHaveLength(1);
    sockets[0]?.open();
    await sleep(20);
    expect(calls).toHaveLength(2);
    rs.close();
  });

  it('exposes its bins as state: a derived value follows live points without a version counter', async () => {
    const { rs, sockets, send } = setup();
    let seen: number[] = [];
    const stop = $effect.root(() => {
      const last = $derived(rs.bins('loss').at(-1)?.toStep ?? -1);
      $effect(() => {
        seen = [...seen, last];
      });
    });
    flushSync();
    rs.show('r1', ['loss'], info(['loss']));
    sockets[0]?.open();
    await sleep(20);
    flushSync();
    send({ loss: [[3, 1]] });
    await frame();
    flushSync();
    expect(seen).toEqual([-1, 2, 3]);
    stop();
    rs.close();
  });
});
