import {
  decodeNum, evalInputSeries, evalSeries, GRAD_NORM_RATIO, INPUT_FIELDS, inputSeries, STAT_FIELDS,
  STAT_KINDS, updateRatioSeries, type EvalMsg, type InputStats, type Num, type StatKind, type StepItem,
} from '@gradwatch/shared';
import type { EvalView, NumInputs, NumStats, StepView } from '../rules/types.js';

export interface LayerOrder {
  first: string | null;
  last: string | null;
  frozen: ReadonlySet<string>;
  /**
   * Series names per layer, built once: the same string objects every step keep their hash,
   * so looking a thousand of them up per step costs no string building or hashing.
   */
  names: Map<string, string[]>;
  /**
   * The names array of the previous step: a step with the same names gets that very array, so
   * the point store resolves a step shape to series once (SeriesCatalog.rowsOf), not per step.
   */
  lastNames: readonly string[] | null;
}

/** The layer order of a model; `names` carries the series-name strings over from an earlier model. */
export function layerOrderOf(model: { layers: ReadonlyArray<{ name: string; trainable?: boolean | undefined }> } | null, names: LayerOrder['names'] = new Map()): LayerOrder {
  const layers = model?.layers ?? [];
  return {
    first: layers[0]?.name ?? null,
    last: layers[layers.length - 1]?.name ?? null,
    frozen: new Set(layers.filter((l) => l.trainable === false).map((l) => l.name)),
    names,
    lastNames: null,
  };
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function namesOf(order: LayerOrder, layer: string): string[] {
  let n = order.names.get(layer);
  if (!n) {
    n = [];
    for (const of of STAT_KINDS) for (const f of STAT_FIELDS) n.push(`layer/${layer}/${of}/${f}`);
    n.push(updateRatioSeries(layer));
    order.names.set(layer, n);
  }
  return n;
}

/** A decoded step: its values by series name, and the view the rule engine reads. */
export interface DecodedStep {
  view: StepView;
  /** Shared by consecutive steps of the same shape: never to be changed. */
  names: readonly string[];
  values: number[];
}

function decodeStats(raw: Record<string, Num | undefined>, fields: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of fields) {
    const v = raw[f];
    if (v !== undefined) out[f] = decodeNum(v);
  }
  return out;
}

function pushInputs(prefix: (s: string) => string, inputs: InputStats, names: string[], values: number[]): NumInputs {
  const d = decodeStats(inputs as unknown as Record<string, Num>, INPUT_FIELDS);
  for (const f of INPUT_FIELDS) {
    const v = d[f];
    if (v !== undefined) {
      names.push(prefix(f));
      values.push(v);
    }
  }
  return d as unknown as NumInputs;
}

export function decodeStep(item: StepItem, order: LayerOrder): DecodedStep {
  const names: string[] = [];
  const values: number[] = [];
  const scalars: Record<string, number> = {};
  for (const [k, raw] of Object.entries(item.scalars)) {
    const v = decodeNum(raw);
    scalars[k] = v;
    names.push(k);
    values.push(v);
  }
  const layers: StepView['layers'] = {};
  const updateRatio: Record<string, number> = {};
  for (const [layer, ls] of Object.entries(item.layers ?? {})) {
    const decoded: Partial<Record<StatKind, NumStats>> = {};
    const layerNames = namesOf(order, layer);
    let k = 0;
    for (const of of STAT_KINDS) {
      const st = ls[of] as Record<string, Num | undefined> | undefined;
      if (st === undefined) {
        k += STAT_FIELDS.length;
        continue;
      }
      const d: Record<string, number> = {};
      for (const f of STAT_FIELDS) {
        const raw = st[f];
        if (raw !== undefined) {
          const v = decodeNum(raw);
          d[f] = v;
          names.push(layerNames[k] as string);
          values.push(v);
        }
        k++;
      }
      decoded[of] = d as unknown as NumStats;
    }
    layers[layer] = decoded;
    pushRatio(layer, decoded, layerNames, order, updateRatio, names, values);
  }
  return finishStep(item, scalars, layers, updateRatio, names, values, order);
}

/**
 * A layer's derived update ratio, right after the layer's own series (a frozen layer has none).
 * Called once per layer, in order, by either decoder.
 */
export function pushRatio(layer: string, decoded: Partial<Record<StatKind, NumStats>>, layerNames: readonly string[], order: LayerOrder, updateRatio: Record<string, number>, names: string[], values: number[]): void {
  const ratio = updateRatioOf(decoded);
  if (ratio !== undefined && !order.frozen.has(layer)) {
    updateRatio[layer] = ratio;
    names.push(layerNames[STAT_KINDS.length * STAT_FIELDS.length] as string);
    values.push(ratio);
  }
}

/** The rest of a decoded step, whichever form it came in: the input stats, the grad norm ratio, the view the rules read. */
export function finishStep(
  item: Pick<StepItem, 'step' | 'epoch' | 'time' | 'examples' | 'inputs'>,
  scalars: Record<string, number>,
  layers: StepView['layers'],
  updateRatio: Record<string, number>,
  names: string[],
  values: number[],
  order: LayerOrder,
): DecodedStep {
  const view: StepView = { step: item.step, scalars, layers, updateRatio };
  if (item.epoch !== undefined) view.epoch = item.epoch;
  if (item.time !== undefined) view.time = item.time;
  if (item.examples !== undefined) view.examples = item.examples;
  if (item.inputs !== undefined) view.inputs = pushInputs(inputSeries, item.inputs, names, values);
  const gnr = gradNormRatio(layers, order);
  if (gnr !== undefined) {
    view.gradNormRatio = gnr;
    names.push(GRAD_NORM_RATIO);
    values.push(gnr);
  }
  const last = order.lastNames;
  if (last !== null && sameNames(last, names)) return { view, names: last, values };
  order.lastNames = names;
  return { view, names, values };
}

/**
 * log10(mean |update| / mean |param|). A zero update gives -Infinity, the marker of a layer that
 * did not change; NaN only comes from non-finite inputs, which the NaN rule reports itself.
 */
export function updateRatioOf(s: Partial<Record<StatKind, NumStats>>): number | undefined {
  const u = s.update?.meanAbs;
  const p = s.param?.meanAbs;
  if (u === undefined || p === undefined) return undefined;
  if (u === 0) return Number.NEGATIVE_INFINITY;
  if (p === 0) return Number.POSITIVE_INFINITY;
  return Math.log10(u / p);
}

function gradNormRatio(layers: StepView['layers'], order: LayerOrder): number | undefined {
  if (order.first === null || order.last === null || order.first === order.last) return undefined;
  const a = layers[order.first]?.grad?.norm;
  const b = layers[order.last]?.grad?.norm;
  if (a === undefined || b === undefined || b === 0) return undefined;
  return a / b;
}

export function decodeEval(msg: EvalMsg): { view: EvalView; names: string[]; values: number[] } {
  const names: string[] = [];
  const values: number[] = [];
  const metrics: Record<string, number> = {};
  for (const [k, raw] of Object.entries(msg.metrics)) {
    const v = decodeNum(raw);
    metrics[k] = v;
    names.push(evalSeries(msg.split, k));
    values.push(v);
  }
  const view: EvalView = { step: msg.step, split: msg.split, metrics };
  if (msg.epoch !== undefined) view.epoch = msg.epoch;
  if (msg.inputs !== undefined) {
    view.inputs = pushInputs((f) => evalInputSeries(msg.split, f), msg.inputs, names, values);
  }
  return { view, names, values };
}
