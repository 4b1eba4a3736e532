import type { Bucket, QueryResult } from '@gradwatch/shared';
import { describe, expect, it } from 'vitest';
import { RunSeries, type Query } from './run-series.svelte';

const bucket = (s: number, v: number | 'NaN'): Bucket => ({
  fromStep: s, toStep: s, count: 1, min: typeof v === 'number' ? v : null, max: typeof v === 'number' ? v : null, last: v,
  nan: v === 'NaN' ? 1 : 0, posInf: 0, negInf: 0,
});
const info = (names: string[]) => names.map((name) => ({ name, count: 3, firstStep: 0, lastStep: 2, firstNonFiniteStep: null }));

function fakeQuery(delayMs = 0) {
  const calls: Array<{ names: readonly string[]; from?: number; to?: number }> = [];
  const q: Query = async (_id, names, o = {}) => {
    calls.push({ names, ...(o.from !== undefined ? { from: o.from } : {}), ...(o.to !== undefined ? { to: o.to } : {}) });
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    return names.map((name) => ({ name, firstNonFiniteStep: null, buckets: [bucket(0, 1), bucket(1, 2), bucket(2, 3)] })) as QueryResult['series'];
  };
  return { q, calls };
}

describe('RunSeries', () => {
  it('loads only series that are wanted and exist, once each', async () => {
    const { q, calls } = fakeQuery();
    const rs = new RunSeries('r1', 100, q);
    await rs.want(['loss', 'eval/val/loss'], info(['loss', 'lr']));
    await rs.want(['loss', 'lr'], info(['loss', 'lr']));
    expect(calls.map((c) => c.names)).toEqual([['loss'], ['lr']]);
    expect(rs.bins('loss')).toHaveLength(3);
  });

  it('appends live points without refetching, NaN included, and bumps its version', async () => {
    const { q, calls } = fakeQuery();
    const rs = new RunSeries('r1', 100, q);
    await rs.want(['loss'], info(['loss']));
    const v = rs.version;
    expect(rs.append({ type: 'points', runId: 'r1', series: { loss: [[2, 9], [3, 'NaN'], [4, 0.5]], other: [[3, 1]] } })).toBe(true);
    expect(rs.bins('loss').map((b) => b.toStep)).toEqual([0, 1, 2, 3, 4]);
    expect(rs.bins('loss')[3]?.nan).toBe(1);
    expect(rs.firstNonFinite.get('loss')).toBe(3);
    expect(rs.version).toBe(v + 1);
    expect(calls).toHaveLength(1);
  });

  it('holds live points that arrive during a query and replays them after it', async () => {
    const { q } = fakeQuery(20);
    const rs = new RunSeries('r1', 100, q);
    const loading = rs.want(['loss'], info(['loss']));
    rs.append({ type: 'points', runId: 'r1', series: { loss: [[3, 7]] } });
    await loading;
    expect(rs.bins('loss').map((b) => b.toStep)).toEqual([0, 1, 2, 3]);
  });

  it('re-queries the zoomed range and ignores live points while zoomed', async () => {
    const { q, calls } = fakeQuery();
    const rs = new RunSeries('r1', 100, q);
    await rs.want(['loss'], info(['loss']));
    await rs.zoom([1, 2]);
    expect(calls[1]).toMatchObject({ from: 1, to: 2 });
    expect(rs.append({ type: 'points', runId: 'r1', series: { loss: [[9, 1]] } })).toBe(false);
  });
});
