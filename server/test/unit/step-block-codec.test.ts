import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeStepBlock, encodeStepBlock, type StepIndexRow } from '../../src/points/step-block-codec.js';
import { blockBefore, stepBlockOf, StepIndex, type StepBlock, type StepBlocksSource } from '../../src/points/step-index.js';

const roundTrip = (rows: StepIndexRow[]): StepIndexRow[] => decodeStepBlock(encodeStepBlock(rows), rows.length);

/** Wall-clock seconds as the Python client sends them: rounded to the microsecond. */
const micros = (t: number): number => Math.round(t * 1e6) / 1e6;

describe('step block codec', () => {
  it('round-trips any steps with any times, epochs and counts, nulls and -0 included, bit for bit', () => {
    const num = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.constant(-0));
    const entry = fc.record({
      gap: fc.integer({ min: 1, max: 2 ** 40 }),
      time: fc.option(num),
      epoch: fc.option(fc.oneof(num, fc.integer({ min: 0, max: 1000 }).map((e) => e / 4))),
      examples: fc.option(fc.integer({ min: 0, max: 2 ** 50 })),
    });
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 200 }), fc.integer({ min: 0, max: 2 ** 50 }), (entries, first) => {
        let step = first - (entries[0]?.gap ?? 0);
        const rows = entries.map((e) => ({ step: (step += e.gap), time: e.time, epoch: e.epoch, examples: e.examples }));
        const back = roundTrip(rows);
        expect(back.length).toBe(rows.length);
        back.forEach((r, i) => {
          const want = rows[i] as StepIndexRow;
          expect(r.step).toBe(want.step);
          for (const k of ['time', 'epoch', 'examples'] as const) expect(Object.is(r[k], want[k])).toBe(true);
        });
      }),
      { numRuns: 400 },
    );
  });

  it('keeps a training loop\'s index in about a byte and a half a step', () => {
    // 128 steps ~13 ms apart with a millisecond of jitter, whole epochs, examples counted by 32.
    let t = 1_764_712_345.123456;
    const rows = Array.from({ length: 128 }, (_, i) => {
      t = micros(t + 0.013 + Math.sin(i * 7.3) * 0.001);
      return { step: 5000 + i, time: t, epoch: Math.floor(i / 50), examples: 32 * (5000 + i) };
    });
    const blob = encodeStepBlock(rows);
    expect(roundTrip(rows)).toEqual(rows);
    expect(blob.length / rows.length).toBeLessThan(3);
  });

  it('stores a raw wall-clock time exactly, in 8 bytes', () => {
    const rows = Array.from({ length: 128 }, (_, i) => ({ step: i, time: 1_764_712_345 + i * 0.0131234567891, epoch: null, examples: null }));
    expect(roundTrip(rows)).toEqual(rows);
    expect(encodeStepBlock(rows).length).toBeLessThan(128 * 8 + 40);
  });

  it('reads the text blocks migration 0008 wrote from the old index', () => {
    const text = Buffer.from('7,1764712345.1234567,,;9,,0.5,64;12,2.5e-300,1.0,');
    expect(decodeStepBlock(text, 3)).toEqual([
      { step: 7, time: 1764712345.1234567, epoch: null, examples: null },
      { step: 9, time: null, epoch: 0.5, examples: 64 },
      { step: 12, time: 2.5e-300, epoch: 1, examples: null },
    ]);
  });

  it('summarises a block, and cuts it at a rewind step', () => {
    const rows = [
      { step: 10, time: 5, epoch: null, examples: 1 },
      { step: 11, time: null, epoch: 2, examples: 2 },
      { step: 13, time: 3, epoch: 1, examples: 3 },
    ];
    const b = stepBlockOf(rows);
    expect({ ...b, data: null }).toEqual({ startStep: 10, endStep: 13, count: 3, timeLo: 3, timeHi: 5, epochLo: 1, epochHi: 2, data: null });
    const cut = blockBefore(b, 12);
    expect(cut && decodeStepBlock(cut.data, cut.count)).toEqual(rows.slice(0, 2));
    expect(cut?.endStep).toBe(11);
    expect(blockBefore(b, 10)).toBeNull();
  });
});

describe('step index reads', () => {
  const entry = (step: number) => ({ step, time: 100 + step, epoch: null, examples: null });
  /**
   * A store where a seal commits while a read is under way, as on PostgreSQL (each read its own
   * statement): whichever read comes first sees steps 3-5 in the tail, every later one in a block.
   */
  function sealingMeanwhile(): StepBlocksSource {
    const sealed = [stepBlockOf([0, 1, 2].map(entry)), stepBlockOf([3, 4, 5].map(entry))];
    let tail = [3, 4, 5, 6, 7, 8].map(entry);
    let blocks = sealed.slice(0, 1);
    const thenSeal = <T>(answer: T): T => {
      blocks = sealed;
      tail = tail.filter((r) => r.step > 5);
      return answer;
    };
    return {
      async tailIndex(_run, axis, from, to) {
        return thenSeal(tail.filter((r) => (r[axis] as number) >= from && (r[axis] as number) <= to));
      },
      async blockPage(_run, axis, from, to, after, desc, limit) {
        const may = axis === 'step' ? (b: StepBlock) => b.endStep >= from && b.startStep <= to : (b: StepBlock) => (b.timeHi as number) >= from && (b.timeLo as number) <= to;
        const page = blocks.filter(may).filter((b) => after === null || (desc ? b.startStep < after : b.startStep > after));
        return thenSeal((desc ? page.reverse() : page).slice(0, limit));
      },
    };
  }

  it('see each step once, whatever a seal moves between their reads', async () => {
    expect((await new StepIndex(sealingMeanwhile()).stepTimes(1, 0, 100, 100)).map((r) => r.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await new StepIndex(sealingMeanwhile()).stepRangeFor(1, 'time', 104, 107)).toEqual({ lo: 4, hi: 7 });
    expect(await new StepIndex(sealingMeanwhile()).stepRangeFor(1, 'time', 103, 105)).toEqual({ lo: 3, hi: 5 });
    expect((await new StepIndex(sealingMeanwhile()).stepTimes(1, 2, 100, 4)).map((r) => r.step)).toEqual([2, 3, 4, 5]);
  });
});
