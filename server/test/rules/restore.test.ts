/**
 * An engine made after its run's alerts opened (a restart, a release, new rule settings) takes
 * them up: the next fire continues the stored alert whatever layer it is on, and its clearing
 * resolves it as a live engine would.
 */
import { describe, expect, it } from 'vitest';
import { createRunEngine, type AlertChange, type DiagnosingRunEngine, type ModelView } from '../../src/rules/index.js';
import { st, step } from './helpers.js';

const MODEL: ModelView = {
  layers: [
    { name: 'fc1', kind: 'Linear', activation: 'relu', params: 100, fanIn: 10, fanOut: 10 },
    { name: 'fc2', kind: 'Linear', activation: 'identity', params: 20, fanIn: 10, fanOut: 2 },
  ],
};
const RULE = 'lr.update_ratio_high';

/** A step whose update ratios (log10) are r1 on fc1 and r2 on fc2 (param meanAbs 0.1). */
function ratios(i: number, r1: number, r2: number): ReturnType<typeof step> {
  const layers = { fc1: { param: st(0.1), update: st(0.1 * 10 ** r1) }, fc2: { param: st(0.1), update: st(0.1 * 10 ** r2) } };
  return step(i, { loss: 1 }, layers, MODEL);
}

function fresh(): DiagnosingRunEngine {
  const e = createRunEngine({ updateEvery: 10 });
  e.onHello({ id: 'r', project: 'p', name: 'n' });
  e.onModel(MODEL);
  return e;
}

const mine = (cs: AlertChange[]): AlertChange[] => cs.filter((c) => c.rule === RULE);

/** An engine that opened the rule's alert on fc1 at step 2 (sustained from step 0), and that alert as stored. */
function openedOnFc1(): { before: DiagnosingRunEngine; stored: AlertChange } {
  const before = fresh();
  const changes = Array.from({ length: 40 }, (_, i) => before.onStep(ratios(i, -1, -3))).flat();
  const open = mine(changes).find((c) => c.action === 'open');
  expect(open).toMatchObject({ layer: 'fc1', firstStep: 2 });
  return { before, stored: { ...(open as AlertChange), lastStep: 39 } };
}

describe('restoreOpen', () => {
  it('a fire on another layer continues the stored alert, under its key, and its clearing resolves it', () => {
    const { stored } = openedOnFc1();
    const e = fresh();
    e.restoreOpen([stored]);
    const fired = mine(Array.from({ length: 20 }, (_, i) => e.onStep(ratios(100 + i, -3, -1))).flat());
    expect(fired.filter((c) => c.action === 'open')).toEqual([]);
    expect(fired[0]).toMatchObject({ action: 'update', layer: 'fc1', layers: ['fc1', 'fc2'], firstStep: 2 });
    const after = mine(Array.from({ length: 200 }, (_, i) => e.onStep(ratios(120 + i, -3, -3))).flat());
    expect(after.filter((c) => c.action === 'resolve')).toEqual([expect.objectContaining({ layer: 'fc1', firstStep: 2, lastStep: 119 })]);
    expect(e.openAlerts()).toEqual([]);
  });

  it('without the restore the same fire opens a second alert, on the other layer', () => {
    const e = fresh();
    const fired = mine(Array.from({ length: 20 }, (_, i) => e.onStep(ratios(100 + i, -3, -1))).flat());
    expect(fired[0]).toMatchObject({ action: 'open', layer: 'fc2', firstStep: 102 });
  });

  it("holds a restored alert while the rule has not fired since: its clears only say its windows are new", () => {
    const { stored } = openedOnFc1();
    const e = fresh();
    e.restoreOpen([{ ...stored, layers: ['fc1', 'fc2'] }]);
    expect(mine(Array.from({ length: 300 }, (_, i) => e.onStep(ratios(100 + i, -3, -3))).flat())).toEqual([]);
    expect(e.openAlerts().filter((c) => c.rule === RULE)).toEqual([expect.objectContaining({ layer: 'fc1', firstStep: 2 })]);
  });

  it('takes up the oldest open alert of a rule and leaves the others; a disabled rule takes none', () => {
    const { stored } = openedOnFc1();
    const e = fresh();
    e.restoreOpen([stored, { ...stored, layer: 'fc2', layers: ['fc2'], firstStep: 20 }]);
    expect(e.openAlerts().filter((c) => c.rule === RULE)).toEqual([expect.objectContaining({ layer: 'fc1', firstStep: 2 })]);
    const off = createRunEngine({ settings: { [RULE]: { enabled: false } } });
    off.restoreOpen([stored]);
    expect(off.openAlerts()).toEqual([]);
  });

  it("ends with the run: the end resolves a restored alert like the engine's own", () => {
    const { stored } = openedOnFc1();
    const e = fresh();
    e.restoreOpen([stored]);
    expect(mine(e.onEnd('completed'))).toEqual([expect.objectContaining({ action: 'resolve', layer: 'fc1', reason: 'ended with the run' })]);
  });
});

describe('succeed (new rule settings)', () => {
  it('keeps the open alert and the verdict of the engine it replaces', () => {
    const { before } = openedOnFc1();
    const verdict = before.diagnoses();
    expect(verdict.length).toBeGreaterThan(0);
    const next = createRunEngine({ updateEvery: 10, settings: { 'lr.loss_plateau': { enabled: false } } });
    next.onHello({ id: 'r', project: 'p', name: 'n' });
    next.onModel(MODEL);
    next.succeed(before);
    expect(next.diagnoses()).toEqual(verdict);
    const cs = mine(Array.from({ length: 20 }, (_, i) => next.onStep(ratios(40 + i, -3, -1))).flat());
    expect(cs.filter((c) => c.action === 'open')).toEqual([]);
    expect(cs[0]).toMatchObject({ action: 'update', layer: 'fc1', firstStep: 2 });
    expect(next.diagnoses()[0]?.firstStep).toBe(2);
  });
});
