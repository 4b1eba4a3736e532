/** Engine lifecycle, settings and catalogue. */
import { describe, expect, it } from 'vitest';
import { RULE_IDS as SHARED_RULE_IDS } from '@gradwatch/shared';
import { RULE_CATALOGUE, RULE_IDS, SECTIONS, createRunEngine, validateRuleSettings, type ModelView } from '../../src/rules/index.js';
import { AlertLog, st, step } from './helpers.js';

const MODEL: ModelView = {
  layers: [
    { name: 'fc1', kind: 'Linear', activation: 'relu', params: 100, fanIn: 10, fanOut: 10 },
    { name: 'fc2', kind: 'Linear', activation: 'identity', params: 20, fanIn: 10, fanOut: 2 },
  ],
};

/** A step whose fc1 update ratio is `ratio` (param meanAbs 0.1). */
function ratioStep(i: number, ratio: number): ReturnType<typeof step> {
  const layers = {
    fc1: { param: st(0.1), update: st(0.1 * 10 ** ratio) },
    fc2: { param: st(0.1), update: st(0.1 * 1e-3) },
  };
  return step(i, { loss: 1 }, layers, MODEL);
}

describe('alert lifecycle', () => {
  it('opens once, updates throttled, resolves after the condition clears for a while, lastStep kept', () => {
    const e = createRunEngine({ updateEvery: 10 });
    const log = new AlertLog();
    e.onHello({ id: 'r', project: 'p', name: 'n' });
    e.onModel(MODEL);
    for (let i = 0; i < 60; i++) log.add(e.onStep(ratioStep(i, -1)));
    // Clear for clearAfter (20) evaluations, then quiet for episodeGap (100) steps: the episode ends.
    for (let i = 60; i < 200; i++) log.add(e.onStep(ratioStep(i, -3)));
    const mine = log.changes.filter((c) => c.rule === 'lr.update_ratio_high');
    expect(mine.filter((c) => c.action === 'open')).toHaveLength(1);
    expect(mine[0]).toMatchObject({ action: 'open', layer: 'fc1', severity: 'warning', section: SECTIONS.lr });
    const updates = mine.filter((c) => c.action === 'update');
    expect(updates.length).toBeGreaterThan(0);
    expect(updates.length).toBeLessThanOrEqual(5);
    const res = mine.find((c) => c.action === 'resolve');
    expect(res).toBeDefined();
    expect(res?.lastStep).toBeLessThan(res?.step ?? 0);
    expect(res?.lastStep).toBeGreaterThanOrEqual(59);
    expect(res?.step).toBeGreaterThanOrEqual((res?.lastStep ?? 0) + 100);
    expect(log.open.size).toBe(0);
  });

  it('refreshes an open alert at most once a second of step time on a fast run, by steps on a clock that goes back', () => {
    const updatesOf = (time: (i: number) => number | undefined, steps = 3000) => {
      const e = createRunEngine({ updateEvery: 10 });
      e.onModel(MODEL);
      const changes = Array.from({ length: steps }, (_, i) => {
        const t = time(i);
        return e.onStep(t === undefined ? ratioStep(i, -1) : { ...ratioStep(i, -1), time: t });
      }).flat().filter((c) => c.rule === 'lr.update_ratio_high');
      expect(changes.filter((c) => c.action === 'open')).toHaveLength(1);
      return changes.filter((c) => c.action === 'update').map((c) => c.step);
    };
    // 1,000 steps a second for 3 s: one refresh a second, each at least updateEvery steps apart.
    const fast = updatesOf((i) => 1.7e9 + i / 1000);
    expect(fast.length).toBeGreaterThanOrEqual(2);
    expect(fast.length).toBeLessThanOrEqual(3);
    expect(fast[0]).toBeGreaterThanOrEqual(1000);
    // Steps without a time, or 1 s apart: every updateEvery steps, as before.
    expect(updatesOf(() => undefined).length).toBeGreaterThan(250);
    expect(updatesOf((i) => 1.7e9 + i).length).toBeGreaterThan(250);
    // A clock that jumps back (resumed elsewhere) is not waited for.
    const back = updatesOf((i) => (i < 1500 ? 1.7e9 + i / 1000 : 1.6e9 + i / 1000));
    expect(back.filter((s) => s >= 1500 && s < 1600).length).toBeGreaterThan(0);
  });

  it('marks opens of stopping rules, skips disabled rules, applies threshold overrides', () => {
    const stopEngine = createRunEngine({ settings: { 'lr.update_ratio_high': { stop: true } } });
    stopEngine.onModel(MODEL);
    const opened = Array.from({ length: 30 }, (_, i) => stopEngine.onStep(ratioStep(i, -1))).flat();
    expect(opened.find((c) => c.action === 'open')?.stop).toBe(true);

    const off = createRunEngine({ settings: { 'lr.update_ratio_high': { enabled: false } } });
    off.onModel(MODEL);
    expect(Array.from({ length: 30 }, (_, i) => off.onStep(ratioStep(i, -1))).flat()).toEqual([]);

    const lenient = createRunEngine({ settings: { 'lr.update_ratio_high': { thresholds: { high: -0.5 } } } });
    lenient.onModel(MODEL);
    expect(Array.from({ length: 30 }, (_, i) => lenient.onStep(ratioStep(i, -1))).flat()).toEqual([]);
  });

  it('a rule that throws is switched off for the run and reported, the others keep working', () => {
    const errors: string[] = [];
    const e = createRunEngine({ onError: (rule) => errors.push(rule) });
    e.onModel(MODEL);
    const weird = ratioStep(0, -3);
    // A malformed view (layers entry that is not an object) must not take ingest down.
    (weird.layers as Record<string, unknown>).bad = 42;
    expect(() => e.onStep(weird)).not.toThrow();
    const s = ratioStep(1, -3);
    s.scalars.loss = Number.NaN;
    expect(e.onStep(s).some((c) => c.rule === 'nan.detected')).toBe(true);
  });
});

describe('per-layer state', () => {
  it('applies a model sent mid-run to layers already seen, and counts from then on', () => {
    const e = createRunEngine();
    const log = new AlertLog();
    const dead = (i: number) => step(i, { loss: 1 }, {
      fc1: { act: { ...st(0.5), fracDeadUnits: 0.9 } },
      fc2: { act: { ...st(0.5), fracDeadUnits: 0.9 } },
    });
    for (let i = 0; i < 30; i++) log.add(e.onStep(dead(i)));
    const deadUnits = () => log.changes.filter((c) => c.rule === 'act.dead_units');
    expect(deadUnits()).toEqual([]); // no model: which layer is hidden is unknown
    e.onModel(MODEL);
    for (let i = 30; i < 45; i++) log.add(e.onStep(dead(i)));
    expect(deadUnits()).toEqual([]); // 15 observations since the model, 16 needed
    log.add(e.onStep(dead(45)));
    // fc1 is hidden; fc2 is the output layer, whose zeros are not dead units.
    expect(deadUnits()).toEqual([expect.objectContaining({ action: 'open', layer: 'fc1', firstStep: 45 })]);
  });
});

describe('nan.detected', () => {
  it('ignores finite stats whose sum overflows (its cheap check) and still opens on a real NaN after them', () => {
    const errors: string[] = [];
    const e = createRunEngine({ onError: (rule) => errors.push(rule) });
    e.onModel(MODEL);
    const huge = { mean: 1e308, std: 1e308, meanAbs: 1e308, min: -1, max: 1e308, norm: 1e308 };
    const changes = [];
    for (let i = 0; i < 5; i++) {
      const s = ratioStep(i, -3);
      s.layers.fc2 = { ...s.layers.fc2, act: huge };
      s.inputs = { mean: 1e308, std: 1e308, min: 0, max: 1e308 };
      changes.push(...e.onStep(s));
    }
    expect(changes.filter((c) => c.rule === 'nan.detected')).toEqual([]);
    const bad = ratioStep(5, -3);
    bad.layers.fc1 = { ...bad.layers.fc1, grad: { ...huge, max: Number.POSITIVE_INFINITY } };
    expect(e.onStep(bad).find((c) => c.rule === 'nan.detected')).toMatchObject({ action: 'open', evidence: { layer: 'fc1', quantity: 'grad', places: 1 } });
    expect(errors).toEqual([]);
  });
});

describe('catalogue and settings', () => {
  it('raises exactly the rule ids the shared contract lists', () => {
    expect([...RULE_IDS].sort()).toEqual([...SHARED_RULE_IDS].sort());
  });

  it('describes every rule with section, severity, condition, thresholds, requirements and advice', () => {
    expect(RULE_CATALOGUE.length).toBeGreaterThanOrEqual(30);
    expect(new Set(RULE_IDS).size).toBe(RULE_IDS.length);
    const sections = new Set<string>(Object.values(SECTIONS));
    for (const r of RULE_CATALOGUE) {
      expect(r.id).toMatch(/^[a-z]+\.[a-z_]+$/);
      expect(sections.has(r.section), r.id).toBe(true);
      expect(['info', 'warning', 'critical']).toContain(r.severity);
      expect(r.condition.length, r.id).toBeGreaterThan(20);
      expect(r.advice.length, r.id).toBeGreaterThan(20);
      expect(r.requires.length, r.id).toBeGreaterThan(0);
      for (const v of Object.values(r.thresholds)) expect(Number.isFinite(v)).toBe(true);
    }
    // Every section of the guide has at least one rule.
    expect(new Set(RULE_CATALOGUE.map((r) => r.section))).toEqual(sections);
  });

  it('validates settings', () => {
    expect(validateRuleSettings({ 'nan.detected': { stop: true }, 'lr.update_ratio_high': { thresholds: { high: -1.5 } } }))
      .toEqual({ ok: true, value: { 'nan.detected': { stop: true }, 'lr.update_ratio_high': { thresholds: { high: -1.5 } } } });
    expect(validateRuleSettings({ 'no.such_rule': {} })).toMatchObject({ ok: false, error: expect.stringContaining('unknown rule') });
    expect(validateRuleSettings({ 'lr.update_ratio_high': { thresholds: { nope: 1 } } })).toMatchObject({ ok: false });
    expect(validateRuleSettings({ 'lr.update_ratio_high': { thresholds: { high: '1' } } })).toMatchObject({ ok: false });
    expect(validateRuleSettings({ 'lr.update_ratio_high': { enabled: 'yes' } })).toMatchObject({ ok: false });
    expect(validateRuleSettings({ 'lr.update_ratio_high': { colour: 'red' } })).toMatchObject({ ok: false });
    expect(validateRuleSettings([])).toMatchObject({ ok: false });
  });
});

describe('docs/rules.md', () => {
  it('holds exactly the reference the catalogue renders', async () => {
    const { readFileSync } = await import('node:fs');
    const { RULE_INDEX_HEADING, renderRuleReference } = await import('../../src/rules/doc.js');
    const doc = readFileSync(new URL('../../../docs/rules.md', import.meta.url), 'utf8');
    expect(doc.slice(doc.indexOf(RULE_INDEX_HEADING))).toBe(renderRuleReference());
  });

  it('documents every rule id with its thresholds', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../../docs/rules.md', import.meta.url), 'utf8');
    for (const r of RULE_CATALOGUE) {
      expect(doc, r.id).toContain(`### ${r.id}`);
      for (const k of Object.keys(r.thresholds)) expect(doc, `${r.id}.${k}`).toContain(`\`${k}\``);
    }
  });
});
