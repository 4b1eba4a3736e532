import type { EvalMsg, LayerStats, ModelMsg, RunInfo, Stats, StepItem } from '@gradwatch/shared';
import { STAT_FIELDS, type Fixture, type Packed, type PackedStats } from './format.js';

const KINDS = ['param', 'grad', 'update', 'act'] as const;

/** Packed fixture values are already wire numbers: NaN and infinities are their markers. */
function wireStats(p: PackedStats): Stats {
  const s: Record<string, Packed> = {};
  STAT_FIELDS.forEach((f, i) => {
    const v = p[i];
    if (v !== null && v !== undefined) s[f] = v;
  });
  return s as unknown as Stats;
}

function inputs(p: PackedStats | null): StepItem['inputs'] {
  if (!p) return undefined;
  const [mean, std, min, max, nonFinite] = p;
  return { mean: mean ?? 0, std: std ?? 0, min: min ?? 0, max: max ?? 0, nonFinite: nonFinite ?? 0 } as StepItem['inputs'];
}

/** One recorded step as the protocol's step item; layer stats are named in forward order. */
export function stepItem([step, loss, lr, acc, inp, layers]: Fixture['steps'][number], layerNames: readonly string[]): StepItem {
  const scalars: Record<string, Packed> = {};
  if (loss !== null) scalars.loss = loss;
  if (lr !== null) scalars.lr = lr;
  if (acc !== null) scalars.acc = acc;
  const item: StepItem = { step, scalars: scalars as StepItem['scalars'] };
  const i = inputs(inp);
  if (i) item.inputs = i;
  if (layers) {
    const ls: Record<string, LayerStats> = {};
    layers.forEach((per, li) => {
      const name = layerNames[li];
      if (name === undefined) return;
      const l: LayerStats = {};
      per.forEach((p, k) => {
        if (p) l[KINDS[k] as (typeof KINDS)[number]] = wireStats(p);
      });
      ls[name] = l;
    });
    item.layers = ls;
  }
  return item;
}

export function evalItem([step, split, loss, acc, inp]: Fixture['evals'][number]): Omit<EvalMsg, 'seq' | 'type'> {
  const metrics: Record<string, Packed> = {};
  if (loss !== null) metrics.loss = loss;
  if (acc !== null) metrics.acc = acc;
  const e = { step, split, metrics } as Omit<EvalMsg, 'seq' | 'type'>;
  const i = inputs(inp);
  if (i) e.inputs = i;
  return e;
}

export function modelOf(fx: Pick<Fixture, 'model'>): Omit<ModelMsg, 'seq' | 'type'> {
  return { layers: fx.model.layers, ...(fx.model.loss ? { loss: fx.model.loss } : {}), ...(fx.model.optimizer ? { optimizer: fx.model.optimizer } : {}) } as Omit<ModelMsg, 'seq' | 'type'>;
}

/** A recorded run as the protocol messages a client would send. */
export function fixtureMessages(fx: Fixture, runId = fx.hello.id): {
  run: RunInfo;
  model: Omit<ModelMsg, 'seq' | 'type'>;
  steps: StepItem[];
  evals: Array<Omit<EvalMsg, 'seq' | 'type'>>;
} {
  const names = fx.model.layers.map((l) => l.name);
  const run: RunInfo = { ...fx.hello, id: runId };
  const model = modelOf(fx);
  const steps = fx.steps.map((row) => stepItem(row, names));
  const evals = fx.evals.map(evalItem);
  return { run, model, steps, evals };
}
