/**
 * Migration 0008 (PostgreSQL: 0002) moved the step index from a row per step into compressed
 * blocks, converting the rows stored before into text blocks. A database from before it must
 * answer every step-index read as it did: here one is made by putting the old table back (with
 * the rows the test sent) and taking the migration's record away, then a server starts on it,
 * takes more steps and rewinds into a converted block.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, hello, noRules, RawSocket, removeDir, startServer, tempDir, type TestServer } from '../helpers.js';
import { oldStepIndex, type StepEntry as Entry } from './old-schema.js';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close().catch(() => undefined);
});

/** Steps 3 apart with raw (unrounded) times, fractional epochs, and some entries missing. */
const entryOf = (i: number): Entry => ({
  step: i * 3,
  time: i % 97 === 5 ? null : 1_764_712_345 + i * 0.0131234567891,
  epoch: i % 89 === 7 ? null : i / 300,
  examples: i % 83 === 11 ? null : i * 32,
});

async function send(s: RawSocket, seq0: number, entries: readonly Entry[]): Promise<number> {
  let seq = seq0;
  for (let i = 0; i < entries.length; i += 250) {
    const items = entries.slice(i, i + 250).map((e) => ({
      step: e.step, scalars: { loss: e.step / 7 },
      ...(e.time !== null ? { time: e.time } : {}), ...(e.epoch !== null ? { epoch: e.epoch } : {}), ...(e.examples !== null ? { examples: e.examples } : {}),
    }));
    s.send({ type: 'steps', seq: ++seq, items });
    await s.ack(seq);
  }
  return seq;
}

const stepsOf = async (srv: TestServer, q = ''): Promise<unknown[]> =>
  (await getJson<{ steps: unknown[] }>(`${srv.url}/api/v1/runs/ix-1/steps?limit=10000${q}`)).body.steps;
const rangeOf = async (srv: TestServer, q: string): Promise<[unknown, unknown]> => {
  const r = (await getJson<{ fromStep: unknown; toStep: unknown }>(`${srv.url}/api/v1/runs/ix-1/query?series=loss&maxPoints=10&${q}`)).body;
  return [r.fromStep, r.toStep];
};
const pointCount = async (srv: TestServer): Promise<unknown> => (await getJson<{ pointCount: unknown }>(`${srv.url}/api/v1/runs/ix-1`)).body.pointCount;

describe('the step index of a database stored before step blocks', () => {
  it('is converted at start: every read answers as before, exactly, and new steps and a rewind go on from it', async () => {
    const dir = tempDir();
    const a = await startServer({ dataDir: dir, engineFactory: noRules });
    const s = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    s.send(hello('ix-1'));
    await s.next((m) => m.type === 'welcome');
    // 1,000 steps: seven seals, and 104 steps left in the tail.
    const old = Array.from({ length: 1000 }, (_, i) => entryOf(i));
    await send(s, 0, old);
    s.close();
    const t = (i: number) => entryOf(i).time as number;
    const ranges = [`x=time&from=${t(100)}&to=${t(700)}`, `x=time&from=${t(3) + 1e-6}&to=${t(998)}`, 'x=epoch&from=0.5&to=2', 'x=time'];
    const asStored = old.map((e) => [e.step, e.time, e.epoch]);
    expect(await stepsOf(a)).toEqual(asStored);
    const before = { ranges: await Promise.all(ranges.map((q) => rangeOf(a, q))), window: await stepsOf(a, '&from=400&to=1700') };
    expect(before.ranges).toEqual([[300, 2100], [12, 2994], [450, 1800], [0, 2997]]);
    expect(await pointCount(a)).toBe(1000);
    const runId = (await a.app.backend.repos.runs.byUid('ix-1'))?.id as number;
    await a.close();
    await oldStepIndex(a, runId, old);

    const b = await startServer({ dataDir: dir, engineFactory: noRules });
    servers.push(b);
    expect(await stepsOf(b)).toEqual(asStored);
    expect(await Promise.all(ranges.map((q) => rangeOf(b, q)))).toEqual(before.ranges);
    expect(await stepsOf(b, '&from=400&to=1700')).toEqual(before.window);
    expect(await pointCount(b)).toBe(1000);

    // More steps: the 104 tail steps are in the converted blocks, the new ones are not.
    const more = Array.from({ length: 300 }, (_, i) => entryOf(1000 + i));
    const s2 = await RawSocket.open(`${b.wsUrl}/v1/ingest`);
    s2.send(hello('ix-1'));
    await s2.next((m) => m.type === 'welcome');
    const seq = await send(s2, 4, more);
    expect(await stepsOf(b)).toEqual([...old, ...more].map((e) => [e.step, e.time, e.epoch]));
    expect(await pointCount(b)).toBe(1300);
    expect(await rangeOf(b, `x=time&from=${t(990)}&to=${t(1100)}`)).toEqual([2970, 3300]);
    s2.close();

    // A rewind into the middle of a converted block keeps the steps before it.
    const s3 = await RawSocket.open(`${b.wsUrl}/v1/ingest`);
    s3.send(hello('ix-1', { rewindTo: 1500 }));
    await s3.next((m) => m.type === 'welcome');
    const kept = old.filter((e) => e.step < 1500);
    expect(await stepsOf(b)).toEqual(kept.map((e) => [e.step, e.time, e.epoch]));
    expect(await pointCount(b)).toBe(kept.length);
    await send(s3, seq, [entryOf(500), entryOf(501)]);
    expect(await stepsOf(b, '&from=1490')).toEqual([...kept.slice(-3), entryOf(500), entryOf(501)].map((e) => [e.step, e.time, e.epoch]));
    s3.close();
    removeDir(dir);
  }, 60_000);
});
