/**
 * Test helpers: turn protocol-shaped data (recorded fixtures or synthetic streams) into the
 * engine's views the way ingest does (update ratio and grad-norm ratio derived per
 * docs/protocol.md), replay them, and track alert state from the returned transitions.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LayerInfo, RunInfo, StatKind } from '@gradwatch/shared';
import { createRunEngine, type AlertChange, type DiagnosingRunEngine, type EvalView, type ModelView, type NumInputs, type NumStats, type RunEngineOptions, type StepView } from '../../src/rules/index.js';
import { unpack, type Fixture, type PackedStats } from '../../../tools/tiny-train/format.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

export function loadFixture(name: string): Fixture {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Fixture;
}

export function fixtureNames(): string[] {
  return readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

const KINDS: StatKind[] = ['param', 'grad', 'update', 'act'];
const FIELDS = ['mean', 'std', 'meanAbs', 'min', 'max', 'norm', 'nonFinite', 'fracZero', 'fracSaturated', 'fracDeadUnits'] as const;

function stats(p: PackedStats): NumStats {
  const s: Record<string, number> = {};
  FIELDS.forEach((f, i) => {
    const v = unpack(p[i]);
    if (v !== undefined) s[f] = v;
  });
  return s as unknown as NumStats;
}

function inputs(p: PackedStats | null): NumInputs | undefined {
  if (!p) return undefined;
  const [mean, std, min, max, nonFinite] = p.map(unpack);
  return { mean: mean ?? 0, std: std ?? 0, min: min ?? 0, max: max ?? 0, nonFinite: nonFinite ?? 0 };
}

/** What ingest derives: log10(update.meanAbs / param.meanAbs), -Infinity for a zero update; first/last grad norm. */
export function derive(layers: StepView['layers'], model: ModelView | undefined): Pick<StepView, 'updateRatio' | 'gradNormRatio'> {
  const updateRatio: Record<string, number> = {};
  for (const [name, l] of Object.entries(layers)) {
    const info = model?.layers.find((x) => x.name === name);
    if (!l.update || !l.param || info?.trainable === false) continue;
    const u = l.update.meanAbs;
    updateRatio[name] = u === 0 ? Number.NEGATIVE_INFINITY : Math.log10(u / l.param.meanAbs);
  }
  const first = model?.layers[0]?.name;
  const last = model?.layers[model.layers.length - 1]?.name;
  const a = first !== undefined ? layers[first]?.grad?.norm : undefined;
  const b = last !== undefined ? layers[last]?.grad?.norm : undefined;
  const out: Pick<StepView, 'updateRatio' | 'gradNormRatio'> = { updateRatio };
  if (a !== undefined && b !== undefined && b !== 0) out.gradNormRatio = a / b;
  return out;
}

export function step(
  n: number,
  scalars: Record<string, number>,
  layers: StepView['layers'] = {},
  model?: ModelView,
  extra: Partial<StepView> = {},
): StepView {
  return { step: n, scalars, layers, ...derive(layers, model), ...extra };
}

/** Tracks alerts the way the alert store would: one open alert per (rule, layer). */
export class AlertLog {
  readonly changes: AlertChange[] = [];
  readonly open = new Map<string, AlertChange>();
  /** First step each rule opened (any layer). */
  readonly firstOpen = new Map<string, number>();
  /** Highest severity each rule ever reached. */
  readonly worst = new Map<string, AlertChange['severity']>();

  add(cs: AlertChange[]): void {
    const rank = { info: 0, warning: 1, critical: 2 } as const;
    for (const c of cs) {
      this.changes.push(c);
      const key = `${c.rule}|${c.layer ?? ''}`;
      if (c.action === 'resolve') this.open.delete(key);
      else this.open.set(key, c);
      if (c.action === 'open' && !this.firstOpen.has(c.rule)) this.firstOpen.set(c.rule, c.step);
      const w = this.worst.get(c.rule);
      if (c.action !== 'resolve' && (w === undefined || rank[c.severity] > rank[w])) this.worst.set(c.rule, c.severity);
    }
  }

  /** Rules that reached warning or critical. */
  serious(): string[] {
    return [...this.worst].filter(([, s]) => s !== 'info').map(([r]) => r).sort();
  }

  rules(): string[] {
    return [...this.worst.keys()].sort();
  }
}

export interface Replay {
  engine: DiagnosingRunEngine;
  log: AlertLog;
  model: ModelView;
}

export function replayFixture(fx: Fixture, opts: RunEngineOptions = {}): Replay {
  const engine = createRunEngine(opts);
  const log = new AlertLog();
  const run: RunInfo = { id: fx.hello.id, project: fx.hello.project, name: fx.hello.name, config: fx.hello.config };
  if (fx.hello.framework) run.framework = fx.hello.framework;
  log.add(engine.onHello(run));
  const model: ModelView = { layers: fx.model.layers as LayerInfo[], loss: fx.model.loss, optimizer: fx.model.optimizer };
  log.add(engine.onModel(model));
  const evals = [...fx.evals];
  for (const [n, loss, lr, acc, inp, perLayer] of fx.steps) {
    const layers: StepView['layers'] = {};
    perLayer?.forEach((kinds, i) => {
      const name = fx.model.layers[i]?.name;
      if (!name) return;
      const l: Partial<Record<StatKind, NumStats>> = {};
      kinds.forEach((p, k) => {
        const kind = KINDS[k];
        if (p && kind) l[kind] = stats(p);
      });
      layers[name] = l;
    });
    const scalars: Record<string, number> = {};
    for (const [k, v] of [['loss', loss], ['lr', lr], ['acc', acc]] as const) {
      const x = unpack(v);
      if (x !== undefined) scalars[k] = x;
    }
    const s = step(n, scalars, layers, model);
    const i = inputs(inp);
    if (i) s.inputs = i;
    log.add(engine.onStep(s));
    while (evals.length && (evals[0]?.[0] ?? Infinity) <= n) {
      const [es, split, el, ea, ei] = evals.shift() ?? [0, 'val', null, null, null];
      const metrics: Record<string, number> = {};
      const lv = unpack(el);
      const av = unpack(ea);
      if (lv !== undefined) metrics.loss = lv;
      if (av !== undefined) metrics.acc = av;
      const ev: EvalView = { step: es, split, metrics };
      const evi = inputs(ei);
      if (evi) ev.inputs = evi;
      log.add(engine.onEval(ev));
    }
  }
  return { engine, log, model };
}

/** A plain, healthy-looking stats object around a given scale. */
export function st(meanAbs: number, extra: Partial<NumStats> = {}): NumStats {
  return { mean: 0, std: meanAbs * 1.25, meanAbs, min: -4 * meanAbs, max: 4 * meanAbs, ...extra };
}
