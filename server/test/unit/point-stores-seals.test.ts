import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_ROWS, firstSealAt } from '../../src/points/chunk-writer.js';
import { BACKENDS, expectedPoints, pointsByName, prng, randomSteps, writeSteps, type Harness } from './point-stores.harness.js';

/* When runs seal, on both point stores (point-stores.test.ts has the rest of the suite). */
for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(`${backend.name} seals`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await backend.make();
    });
    afterAll(async () => {
      await h?.close();
    });

    it('seals runs that start together at steps of their own, then every CHUNK_ROWS rows', async () => {
      const runs = [await h.newRun(), await h.newRun(), await h.newRun()];
      const steps = Array.from({ length: CHUNK_ROWS * 4 }, (_, i) => ({ step: i, names: ['loss'], values: [i] }));
      const firsts: number[] = [];
      for (const run of runs) {
        await writeSteps(h, h.store, run, steps, 16);
        const chunks = ((await h.summaries(run)) as Array<{ level: number; count: number }>).filter((r) => r.level === 0).map((r) => Number(r.count));
        expect(chunks[0]).toBe(firstSealAt(run));
        expect(chunks.slice(1).every((n) => n === CHUNK_ROWS)).toBe(true);
        firsts.push(chunks[0] as number);
        expect(await pointsByName(h.store, run)).toEqual(expectedPoints(steps));
      }
      expect(new Set(firsts).size).toBe(runs.length);
      // Spread over the cycle: no two within an eighth of it.
      const sorted = [...firsts].sort((a, b) => a - b);
      for (let i = 1; i < sorted.length; i++) expect((sorted[i] as number) - (sorted[i - 1] as number)).toBeGreaterThanOrEqual(CHUNK_ROWS / 8);
    });

    it('yields points in step order while a seal happens meanwhile', async () => {
      const run = await h.newRun();
      // Two seals in the first write, the third in the second.
      const steps = randomSteps(prng(5), ['loss'], 0, firstSealAt(run) + CHUNK_ROWS * 2 + 20, 1);
      const first = steps.slice(0, firstSealAt(run) + CHUNK_ROWS + 60);
      await writeSteps(h, h.store, run, first);
      const [s] = await h.store.series(run);
      if (!s) throw new Error('no series');
      const out: Array<[number, number]> = [];
      let wrote = false;
      for await (const p of h.store.points(run, s)) {
        out.push(p);
        // Mid-chunk: the rest of the steps seal the tail into a chunk under the reader.
        if (!wrote && out.length === 10) {
          wrote = true;
          await writeSteps(h, h.store, run, steps.slice(first.length), 40);
        }
      }
      expect(out).toEqual(expectedPoints(steps).get('loss'));
    });
  });
}
