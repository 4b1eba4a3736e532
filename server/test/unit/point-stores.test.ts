import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_CHUNK_POINTS } from '../../src/points/chunk-build.js';
import { CHUNK_ROWS } from '../../src/points/point-store.js';
import { firstSealAt } from '../../src/points/chunk-writer.js';
import type { PointStore, StepPoints } from '../../src/points/point-store.js';
import {
  BACKENDS, PG_URL, expectedPoints, pgHarness, pointsByName, prng, randomSteps, sqliteHarness, writeSteps, type Harness,
} from './point-stores.harness.js';

/*
 * One suite, both point stores: what ingest writes and REST reads must be the same on SQLite and
 * PostgreSQL. The PostgreSQL half runs when GRADWATCH_TEST_PG_URL names a cluster (a fresh
 * database is created and dropped there).
 */
const NAMES = ['loss', 'layer/a/grad/norm', 'layer/b/grad/norm'];

/** Every bucket's count adds up to the points in range, and min/max/non-finite agree with them. */
function checkBuckets(buckets: Array<{ count: number; min: number | null; max: number | null; nan: number }>, pts: Array<[number, number]>): void {
  expect(buckets.reduce((n, b) => n + b.count, 0)).toBe(pts.length);
  expect(buckets.reduce((n, b) => n + b.nan, 0)).toBe(pts.filter(([, v]) => Number.isNaN(v)).length);
  const finite = pts.map(([, v]) => v).filter(Number.isFinite);
  const mins = buckets.map((b) => b.min).filter((v): v is number => v !== null);
  if (finite.length) expect(Math.min(...mins)).toBe(Math.min(...finite));
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(backend.name, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await backend.make();
    });
    afterAll(async () => {
      await h?.close();
    });

    it('keeps every point, NaN and infinities exactly, across several seals', async () => {
      const run = await h.newRun();
      const steps = randomSteps(prng(1), NAMES, 0, CHUNK_ROWS * 3 + 17, 3);
      await writeSteps(h, h.store, run, steps);
      const want = expectedPoints(steps);
      expect(await pointsByName(h.store, run)).toEqual(want);
      expect(await h.store.stepCount(run)).toBe(steps.length);
      expect(await h.store.extent(run)).toEqual({ lo: 0, hi: steps.at(-1)?.step });
      const info = await h.store.seriesInfo(run);
      for (const i of info) {
        const pts = want.get(i.name) ?? [];
        const bad = pts.find(([, v]) => !Number.isFinite(v));
        expect(i).toEqual({ name: i.name, count: pts.length, firstStep: pts[0]?.[0], lastStep: pts.at(-1)?.[0], firstNonFiniteStep: bad?.[0] ?? null });
      }
      const series = await h.store.series(run);
      for (const maxPoints of [3, 50, 1000]) {
        const res = await h.store.query(run, series, 0, steps.at(-1)?.step ?? 0, maxPoints);
        for (const r of res) {
          expect(r.buckets.length).toBeLessThanOrEqual(maxPoints);
          checkBuckets(r.buckets, want.get(r.name) ?? []);
        }
      }
      expect(await h.store.seriesCount(run)).toBe(NAMES.length);
      expect(await h.store.countNew(run, ['loss', 'new/one', 'new/two'])).toBe(2);
    });

    it('resolves a names array shared by many steps once, and still takes the new names of another shape', async () => {
      const run = await h.newRun();
      // The decoder hands consecutive steps of one shape the same array, as here.
      const a = ['loss', 'layer/a/grad/norm'];
      const b = ['loss', 'layer/a/grad/norm', 'layer/c/grad/norm'];
      const steps: StepPoints[] = [];
      for (let i = 0; i < firstSealAt(run) + 40; i++) {
        const names = i >= 100 && i < 110 ? b : a;
        steps.push({ step: i, names, values: names.map((_, j) => i * 10 + j) });
      }
      // Step 100 brings a new name in the middle of a batch; a then comes back.
      await writeSteps(h, h.store, run, steps, 7);
      expect(await pointsByName(h.store, run)).toEqual(expectedPoints(steps));
      expect(await h.store.countNew(run, a)).toBe(0);
      expect(await h.store.countNew(run, ['loss', 'new/one'])).toBe(1);
    });

    it('reads rollup windows for wide queries, and x axes', async () => {
      const run = await h.newRun();
      // Steps 1,000 apart: a few hundred steps span both rollup levels.
      const steps: StepPoints[] = Array.from({ length: 600 }, (_, i) => ({ step: i * 1000, time: i * 2, epoch: i, names: ['loss'], values: [i % 50 === 0 ? Number.NaN : i] }));
      await writeSteps(h, h.store, run, steps, 100);
      const [s] = await h.store.series(run);
      if (!s) throw new Error('no series');
      for (const maxPoints of [2, 5, 40]) {
        const [r] = await h.store.query(run, [s], 0, 599_000, maxPoints);
        checkBuckets(r?.buckets ?? [], expectedPoints(steps).get('loss') ?? []);
      }
      const [mid] = await h.store.query(run, [s], 150_500, 450_500, 3);
      expect(mid?.buckets.reduce((n, b) => n + b.count, 0)).toBe(300);
      expect(await h.store.stepRangeFor(run, 'time', 10, 20)).toEqual({ lo: 5000, hi: 10_000 });
      expect(await h.store.stepRangeFor(run, 'epoch', 3, 4)).toEqual({ lo: 3000, hi: 4000 });
      expect(await h.store.stepTimes(run, 1000, 3000, 2)).toEqual([{ step: 1000, time: 2, epoch: 1 }, { step: 2000, time: 4, epoch: 2 }]);
    });

    it('upserts eval points, NaN included, and counts them', async () => {
      const run = await h.newRun();
      await writeSteps(h, h.store, run, [{ step: 5, names: ['loss'], values: [1] }]);
      await h.transact(() => h.store.appendEval(run, 10, ['eval/acc', 'eval/loss'], [0.5, Number.NaN]));
      await h.transact(() => h.store.appendEval(run, 3, ['eval/acc'], [Number.POSITIVE_INFINITY]));
      await h.transact(() => h.store.appendEval(run, 10, ['eval/acc', 'eval/acc'], [0.7, 0.75]));
      const pts = await pointsByName(h.store, run);
      expect(pts.get('eval/acc')).toEqual([[3, Infinity], [10, 0.75]]);
      expect(pts.get('eval/loss')).toEqual([[10, Number.NaN]]);
      const info = await h.store.seriesInfo(run);
      expect(info.find((i) => i.name === 'eval/acc')).toEqual({ name: 'eval/acc', count: 2, firstStep: 3, lastStep: 10, firstNonFiniteStep: 3 });
      expect(info.find((i) => i.name === 'eval/loss')?.firstNonFiniteStep).toBe(10);
      expect(await h.store.extent(run)).toEqual({ lo: 3, hi: 10 });
      const [acc] = await h.store.query(run, (await h.store.series(run)).filter((s) => s.name === 'eval/acc'), 0, 100, 100);
      expect(acc?.buckets.map((b) => [b.fromStep, b.last])).toEqual([[3, 'Infinity'], [10, 0.75]]);
    });

    it('rewinds mid-chunk, then takes new steps from there', async () => {
      const run = await h.newRun();
      // The cut falls in the run's second chunk.
      const steps = randomSteps(prng(2), NAMES, 0, firstSealAt(run) + CHUNK_ROWS + 40, 1);
      await writeSteps(h, h.store, run, steps);
      await h.transact(() => h.store.appendEval(run, steps.at(-1)?.step ?? 0, ['eval/x'], [1]));
      await h.transact(() => h.store.appendHists(run, [{ step: steps.at(-1)?.step ?? 0, layer: 'a', of: 'grad', edges: [0, 1], counts: [1] }]));
      const cut = steps[firstSealAt(run) + 50]?.step ?? 0;
      await h.transact(() => h.store.rewind(run, cut));
      const kept = steps.filter((p) => p.step < cut);
      const more = randomSteps(prng(3), NAMES, cut, CHUNK_ROWS + 5, 2);
      await writeSteps(h, h.store, run, more);
      const all = [...kept, ...more];
      const got = await pointsByName(h.store, run);
      for (const [name, pts] of expectedPoints(all)) expect(got.get(name)).toEqual(pts);
      expect(got.get('eval/x')).toEqual([]);
      expect(await h.store.histograms(run, null, null, 0, 1e9, 10)).toEqual([]);
      expect(await h.store.stepCount(run)).toBe(all.length);
      const series = (await h.store.series(run)).filter((s) => !s.name.startsWith('eval/'));
      const last = all.at(-1)?.step ?? 0;
      for (const r of await h.store.query(run, series, 0, last, 7)) checkBuckets(r.buckets, expectedPoints(all).get(r.name) ?? []);
    });

    it('rebuilds the rollups of a trimmed chunk that began windows before the rewind step', async () => {
      const run = await h.newRun();
      // Steps 100 apart: the run's first chunk spans 12,800 steps or more, three level-1 windows.
      await h.transact(() => h.store.appendSteps(run, Array.from({ length: firstSealAt(run) }, (_, i) => ({ step: i * 100, names: ['loss'], values: [i] }))));
      await h.transact(() => h.store.rewind(run, 6400));
      const series = await h.store.series(run);
      const [one] = await h.store.query(run, series, 0, 12_700, 1);
      expect(one?.buckets).toEqual([{ fromStep: 0, toStep: 6300, count: 64, min: 0, max: 63, last: 63, nan: 0, posInf: 0, negInf: 0 }]);
      expect(await h.store.seriesInfo(run)).toEqual([{ name: 'loss', count: 64, firstStep: 0, lastStep: 6300, firstNonFiniteStep: null }]);
    });

    it('deletes a run and nothing else', async () => {
      const keep = await h.newRun();
      const gone = await h.newRun();
      // Past either run's first seal (below 2 x CHUNK_ROWS).
      const steps = randomSteps(prng(4), NAMES, 0, CHUNK_ROWS * 2 + 10, 1);
      await writeSteps(h, h.store, keep, steps);
      await writeSteps(h, h.store, gone, steps);
      await h.transact(() => h.store.appendHists(gone, [{ step: 1, layer: 'a', of: 'grad', edges: [0, 1], counts: [3] }]));
      await h.transact(() => h.store.deleteRun(gone));
      expect(await h.store.series(gone)).toEqual([]);
      expect(await h.store.stepCount(gone)).toBe(0);
      expect(await h.store.extent(gone)).toEqual({ lo: null, hi: null });
      expect(await h.store.histograms(gone, null, null, 0, 1e9, 10)).toEqual([]);
      expect(await h.store.seriesCount(gone)).toBe(0);
      expect(await pointsByName(h.store, keep)).toEqual(expectedPoints(steps));
    });

    it('stores histograms, last write of a key wins, newest first', async () => {
      const run = await h.newRun();
      for (const [step, layer, of] of [[1, 'a', 'grad'], [2, 'a', 'grad'], [2, 'b', 'grad'], [3, 'a', 'param']] as const) {
        await h.transact(() => h.store.appendHists(run, [{ step, layer, of, edges: [0, step], counts: [step] }]));
      }
      await h.transact(() => h.store.appendHists(run, [{ step: 2, layer: 'a', of: 'grad', edges: [-1, 1], counts: [9] }]));
      expect(await h.store.histograms(run, 'a', 'grad', 0, 10, 10)).toEqual([
        { step: 2, layer: 'a', of: 'grad', edges: [-1, 1], counts: [9] },
        { step: 1, layer: 'a', of: 'grad', edges: [0, 1], counts: [1] },
      ]);
      expect((await h.store.histograms(run, null, null, 0, 10, 2)).map((x) => x.step)).toEqual([3, 2]);
      expect((await h.store.histograms(run, null, 'grad', 2, 2, 10)).map((x) => x.layer).sort()).toEqual(['a', 'b']);
    });

    it('stores a batch of histograms in one call; of duplicates in it the last wins', async () => {
      const run = await h.newRun();
      const last = { step: 7, layer: 'l1', of: 'param', edges: [-2, 2], counts: [42] };
      const batch = [...Array.from({ length: 300 }, (_, i) => ({ step: i, layer: `l${i % 3}`, of: 'param', edges: [0, i + 0.5, i + 1], counts: [i, 1] })), last];
      await h.transact(() => h.store.appendHists(run, batch));
      const got = await h.store.histograms(run, null, null, 0, 1e9, 1000);
      expect([...got].reverse()).toEqual(batch.slice(0, 300).map((x) => (x.step === 7 ? last : x)));
    });

    it('re-reads the tail after forget, and another store continues the run', async () => {
      const run = await h.newRun();
      const steps = randomSteps(prng(6), NAMES, 0, CHUNK_ROWS * 3, 1);
      await writeSteps(h, h.store, run, steps.slice(0, 100));
      // A rolled-back message: memory went ahead of the database.
      await expect(h.transact(async () => {
        await h.store.appendSteps(run, randomSteps(prng(7), [...NAMES, 'new/series'], 100, 40, 1));
        throw new Error('rollback');
      })).rejects.toThrow('rollback');
      h.store.forget(run);
      await writeSteps(h, h.store, run, steps.slice(100, 200));
      // Another server takes the run over, then gives it back.
      const other = h.other();
      await writeSteps(h, other, run, steps.slice(200, 300));
      h.store.forget(run);
      await writeSteps(h, h.store, run, steps.slice(300));
      expect(await pointsByName(h.store, run)).toEqual(expectedPoints(steps));
      expect(await h.store.seriesCount(run)).toBe(NAMES.length);
    });

    it('keeps a sparse series in the tail until it fills a chunk, through a takeover and a rewind', async () => {
      const run = await h.newRun();
      // A layer logged every 50th step: 2-3 points a seal, never a chunk that small.
      const steps: StepPoints[] = Array.from({ length: CHUNK_ROWS * 40 }, (_, i) =>
        i % 50 === 0 ? { step: i, names: ['loss', 'layer/x/param/mean'], values: [i, i % 7 === 0 ? Number.NaN : -i] } : { step: i, names: ['loss'], values: [i] });
      const half = CHUNK_ROWS * 25;
      await writeSteps(h, h.store, run, steps.slice(0, half));
      await writeSteps(h, h.other(), run, steps.slice(half, half + 700));
      h.store.forget(run);
      await writeSteps(h, h.store, run, steps.slice(half + 700));
      const want = expectedPoints(steps);
      expect(await pointsByName(h.store, run)).toEqual(want);
      const sizes = (await h.summaries(run)) as Array<{ name: string; level: number; count: number }>;
      const chunks = sizes.filter((r) => r.name === 'layer/x/param/mean' && r.level === 0).map((r) => Number(r.count));
      expect(chunks.length).toBeGreaterThan(0);
      // Sealed along with the loss every CHUNK_ROWS steps, they would hold 2 or 3 points.
      expect(Math.min(...chunks)).toBeGreaterThanOrEqual(Math.max(MIN_CHUNK_POINTS, 4));
      const last = steps.at(-1)?.step ?? 0;
      for (const r of await h.store.query(run, await h.store.series(run), 0, last, 9)) checkBuckets(r.buckets, want.get(r.name) ?? []);
      // A rewind into the held points: what stays is what was before it.
      await h.transact(() => h.store.rewind(run, 3030));
      const kept = expectedPoints(steps.filter((p) => p.step < 3030));
      expect(await pointsByName(h.store, run)).toEqual(kept);
      expect((await h.store.seriesInfo(run)).find((x) => x.name === 'layer/x/param/mean')).toMatchObject({ count: kept.get('layer/x/param/mean')?.length, lastStep: 3000 });
    });
  });
}

describe.skipIf(!PG_URL)('both stores on the same random stream', () => {
  let a: Harness;
  let b: Harness;
  beforeAll(async () => {
    a = await sqliteHarness();
    b = await pgHarness(PG_URL as string);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  /**
   * Writes the same stream to both: steps in messages of random size, evals, one rewind. With
   * `sparseEvery`, series that only every so many steps carry, which seals keep in the tail.
   */
  async function feed(seed: number, count: number, maxGap: number, sparseEvery = 0): Promise<[number, number, number]> {
    const rand = prng(seed);
    const names = Array.from({ length: 6 }, (_, i) => `layer/l${i}/grad/norm`);
    const runs = [await a.newRun(), await b.newRun()] as const;
    const sparse = (steps: StepPoints[]) =>
      steps.map((p, i) => (sparseEvery && i % sparseEvery === 0 ? { ...p, names: [...p.names, 's/a', 's/b'], values: [...p.values, i, -i] } : p));
    const steps = sparse(randomSteps(rand, names, 0, count, maxGap));
    const cut = steps[Math.floor(count * 0.6)]?.step ?? 0;
    const tail = sparse(randomSteps(rand, names, cut, Math.floor(count * 0.3), maxGap));
    const messages: Array<(s: PointStore, run: number) => Promise<void>> = [];
    for (let i = 0; i < steps.length;) {
      const n = 1 + Math.floor(rand() * 40);
      const batch = steps.slice(i, i + n);
      messages.push((s, run) => s.appendSteps(run, batch));
      if (rand() < 0.2) {
        const at = batch[0]?.step ?? 0;
        const v = rand() < 0.2 ? Number.NaN : rand();
        messages.push((s, run) => s.appendEval(run, at, ['eval/acc'], [v]));
      }
      i += n;
    }
    messages.push((s, run) => s.rewind(run, cut));
    messages.push((s, run) => s.appendSteps(run, tail));
    for (const m of messages) {
      await a.transact(() => m(a.store, runs[0]));
      await b.transact(() => m(b.store, runs[1]));
    }
    return [runs[0], runs[1], tail.at(-1)?.step ?? 0];
  }

  const cases = [['dense steps', 11, 1500, 3, 0], ['sparse steps (both rollup levels)', 12, 1200, 4000, 0], ['sparse series held in the tail at seals', 13, 3000, 2, 17]] as const;
  for (const [label, seed, count, gap, sparseEvery] of cases) {
    it(`answer every read identically: ${label}`, async () => {
      const [ra, rb, last] = await feed(seed, count, gap, sparseEvery);
      const sa = await a.store.series(ra);
      const sb = await b.store.series(rb);
      const key = (s: Array<{ name: string; slot: number; firstNonFiniteStep: number | null }>) =>
        s.map(({ name, slot, firstNonFiniteStep }) => ({ name, slot, firstNonFiniteStep })).sort((x, y) => x.name.localeCompare(y.name));
      expect(key(sb)).toEqual(key(sa));
      expect(await b.summaries(rb)).toEqual(await a.summaries(ra));
      expect(await b.store.seriesInfo(rb)).toEqual(await a.store.seriesInfo(ra));
      expect(await pointsByName(b.store, rb)).toEqual(await pointsByName(a.store, ra));
      expect(await b.store.extent(rb)).toEqual(await a.store.extent(ra));
      expect(await b.store.stepCount(rb)).toBe(await a.store.stepCount(ra));
      expect(await b.store.stepTimes(rb, 0, last, 50)).toEqual(await a.store.stepTimes(ra, 0, last, 50));
      const rand = prng(seed * 7);
      for (let q = 0; q < 150; q++) {
        const lo = Math.floor(rand() * last);
        const hi = q % 3 === 0 ? last : lo + Math.floor(rand() * (last - lo + 1));
        const maxPoints = 1 + Math.floor(rand() * (q % 2 ? 1000 : 20));
        const byName = (s: typeof sa) => [...s].sort((x, y) => x.name.localeCompare(y.name));
        expect(await b.store.query(rb, byName(sb), lo, hi, maxPoints), `query ${lo}..${hi} / ${maxPoints}`).toEqual(
          await a.store.query(ra, byName(sa), lo, hi, maxPoints),
        );
      }
    });
  }
});
