/**
 * `hists`: many histograms under one seq, on either backend (server-pg runs this file too).
 * Stored value for value, readable over REST, rejected whole on one bad item, under the same
 * seq rules as every sequenced message.
 */
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, hello, noRules, RawSocket, removeDir, startServer, type TestServer } from '../helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer({ engineFactory: noRules, env: { GRADWATCH_MAX_ITEMS_PER_MESSAGE: '500' } });
});
afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

interface Hist {
  step: number;
  layer: string;
  of: 'param' | 'grad' | 'update' | 'act';
  edges: number[];
  counts: number[];
}

async function session(id: string, extra: Record<string, unknown> = {}): Promise<{ s: RawSocket; welcome: Record<string, unknown> }> {
  const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
  s.send(hello(id, extra));
  const welcome = (await s.next((m) => m.type === 'welcome')) as unknown as Record<string, unknown>;
  return { s, welcome };
}

/** Every histogram of a run, oldest first (the API answers newest first, at most 1000 a call). */
async function stored(run: string): Promise<Hist[]> {
  const all: Hist[] = [];
  let to = Number.MAX_SAFE_INTEGER;
  for (;;) {
    const page = (await getJson<{ histograms: Hist[] }>(`${srv.url}/api/v1/runs/${run}/histograms?limit=1000&to=${to}`)).body.histograms;
    all.push(...page);
    const last = page.at(-1);
    if (page.length < 1000 || last === undefined) break;
    to = last.step - 1;
  }
  return all.sort((a, b) => a.step - b.step || a.of.localeCompare(b.of) || a.layer.localeCompare(b.layer));
}

const OFS = ['act', 'grad', 'param', 'update'] as const;
/** Distinct, awkward values per item: fractions, negatives, repeated edges, zero and large counts. */
function batch(from: number, n: number): Hist[] {
  return Array.from({ length: n }, (_, i) => {
    const k = from + i;
    const lo = -1 / (k + 3);
    return { step: 10 + Math.floor(k / 8), layer: `fc${k % 2}`, of: OFS[Math.floor(k / 2) % 4] ?? 'param', edges: [lo, lo, 0.1 * k, 2 ** 40 + k], counts: [0, k, 2 ** 31 + k] };
  });
}

describe('hists', () => {
  it('is offered in the welcome', async () => {
    const { s, welcome } = await session('hists-welcome');
    expect(welcome.features).toEqual(['hists']);
    s.close();
  });

  it('stores a batch value for value, in JSON and in MessagePack, readable over REST', async () => {
    const { s } = await session('hists-store', { encodings: ['msgpack'] });
    const a = batch(0, 500);
    const b = batch(500, 300);
    s.send({ type: 'hists', seq: 1, items: a });
    s.ws.send(new Packr({ useRecords: false }).pack({ type: 'hists', seq: 2, items: b }));
    await s.ack(1);
    await s.ack(2);
    expect(s.received.filter((m) => m.type === 'error')).toEqual([]);
    const want = [...a, ...b].sort((x, y) => x.step - y.step || x.of.localeCompare(y.of) || x.layer.localeCompare(y.layer));
    expect(await stored('hists-store')).toEqual(want);
    // Only the layer asked for, in the steps asked for.
    const some = await getJson<{ histograms: Hist[] }>(`${srv.url}/api/v1/runs/hists-store/histograms?layer=fc1&of=grad&from=12&to=13`);
    expect(some.body.histograms).toEqual(want.filter((h) => h.layer === 'fc1' && h.of === 'grad' && h.step >= 12 && h.step <= 13).reverse());
    s.close();
  });

  it('keeps the last of two items for the same layer, kind and step, as two hist messages would', async () => {
    const { s } = await session('hists-dup');
    const h: Hist = { step: 3, layer: 'fc', of: 'param', edges: [0, 1], counts: [1] };
    s.send({ type: 'hists', seq: 1, items: [h, { ...h, layer: 'other' }, { ...h, counts: [9] }] });
    await s.ack(1);
    expect(await stored('hists-dup')).toEqual([{ ...h, counts: [9] }, { ...h, layer: 'other' }]);
    s.close();
  });

  const bad: Array<[string, Partial<Hist> | Record<string, unknown>, RegExp]> = [
    ['an edge too few', { edges: [0, 1], counts: [1, 2] }, /items\/2: a histogram needs one more edge than counts/],
    ['decreasing edges', { edges: [0, 2, 1], counts: [1, 2] }, /items\/2: histogram edges must be finite and non-decreasing/],
    ['a negative count', { counts: [1, -1] }, /\/items\/2\/counts\/1/],
    ['a fractional count', { counts: [1, 0.5] }, /\/items\/2\/counts\/1/],
    ['an unknown kind', { of: 'weights' }, /\/items\/2\/of/],
  ];
  it.each(bad)('rejects the whole message for one item with %s, stores nothing of it and consumes its seq', async (_what, change, why) => {
    const id = `hists-bad-${bad.findIndex((x) => x[1] === change)}`;
    const { s } = await session(id);
    const items = batch(0, 5);
    items[2] = { ...items[2], ...change } as Hist;
    s.send({ type: 'hists', seq: 1, items });
    const err = (await s.error(1)) as unknown as { code: string; message: string };
    expect(err.code).toBe('bad_message');
    expect(err.message).toMatch(why);
    s.send({ type: 'hists', seq: 2, items: batch(100, 1) });
    await s.ack(2);
    expect(await stored(id)).toEqual(batch(100, 1));
    s.close();
  });

  it('rejects a non-finite edge sent as a MessagePack float, in the schema', async () => {
    const { s } = await session('hists-nan', { encodings: ['msgpack'] });
    const items = batch(0, 3);
    items[1] = { ...(items[1] as Hist), edges: [0, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY] };
    s.ws.send(new Packr({ useRecords: false }).pack({ type: 'hists', seq: 1, items }));
    expect(await s.error(1)).toMatchObject({ code: 'bad_message', message: expect.stringMatching(/\/items\/1\/edges\/1: must be number/) });
    expect(await stored('hists-nan')).toEqual([]);
    s.close();
  });

  it('holds to maxItemsPerMessage and refuses an empty batch', async () => {
    const { s } = await session('hists-limit');
    s.send({ type: 'hists', seq: 1, items: batch(0, 501) });
    expect(await s.error(1)).toMatchObject({ code: 'limit', message: expect.stringMatching(/501 items exceed maxItemsPerMessage=500/) });
    s.send({ type: 'hists', seq: 2, items: [] });
    expect(await s.error(2)).toMatchObject({ code: 'bad_message' });
    expect(await stored('hists-limit')).toEqual([]);
    s.close();
  });

  it('follows the seq rules: a re-send is acked and not stored again, a gap is answered with the seq expected', async () => {
    const { s } = await session('hists-seq');
    s.send({ type: 'hists', seq: 1, items: batch(0, 4) });
    await s.ack(1);
    s.send({ type: 'hists', seq: 3, items: batch(10, 4) });
    expect(await s.error(3)).toMatchObject({ code: 'gap', expected: 2 });
    // The same seq with other content: a re-send, acked, and what was stored stays.
    s.send({ type: 'hists', seq: 1, items: batch(0, 4).map((h) => ({ ...h, counts: h.counts.map(() => 7) })) });
    await s.ack(1);
    s.send({ type: 'hist', seq: 2, ...batch(20, 1)[0] });
    s.send({ type: 'hists', seq: 3, items: batch(10, 4) });
    await s.ack(3);
    s.close();
    // A new connection resumes after the last seq stored.
    const again = await session('hists-seq');
    expect(again.welcome.lastSeq).toBe(3);
    again.s.close();
    expect(await stored('hists-seq')).toEqual([...batch(0, 4), ...batch(10, 4), ...batch(20, 1)].sort((x, y) => x.step - y.step || x.of.localeCompare(y.of) || x.layer.localeCompare(y.layer)));
  });
});
