import { encodeNum, type InputStats, type LayerStats, type Num, type StepItem, type Stats } from '@gradwatch/shared';
import { paramLayout } from './param-layout.js';
import type { Histogram, StatsEntry, StatsType, Update } from './sbe-types.js';
import { UPDATE_BITS } from './sbe-types.js';

/** A histogram as the protocol's `hist` message carries it (step added by the caller). */
export interface MappedHist {
  layer: string;
  of: 'param' | 'grad' | 'update' | 'act';
  edges: number[];
  counts: number[];
}

/** One Update as protocol content: a step item without its step, and its histograms. */
export interface MappedUpdate {
  item: Omit<StepItem, 'step'>;
  hists: MappedHist[];
}

const MAX_BINS = 1000;
const MB = 1024 * 1024;
const KIND: Record<Exclude<StatsType, 'Activations'>, 'param' | 'grad' | 'update'> = { Parameters: 'param', Gradients: 'grad', Updates: 'update' };

const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100) || '_';

/**
 * A protocol Stats object from DL4J's summaries (mean, stdev, mean magnitude) and, when the
 * histogram of that statistic came too, its min and max. DL4J marks a parameter missing from a
 * map (e.g. a frozen layer's gradient) with NaN summaries and no histogram; without a histogram
 * all-NaN summaries are therefore left out, since they cannot be told from a NaN tensor (which
 * the score shows as well). A real NaN tensor with histograms on keeps its NaN min and max.
 */
function statsOf(e: StatsEntry, stat: StatsType): Stats | undefined {
  const raw = (s: string): number | undefined => e.summaries.find((y) => y.stat === stat && y.summary === s)?.value;
  const mean = raw('Mean');
  const meanAbs = raw('MeanMagnitude');
  let std = raw('Stdev');
  if (mean === undefined || std === undefined || meanAbs === undefined) return undefined;
  // The stdev divides by n - 1, so a one-element tensor (a 1-unit layer's bias) reports NaN.
  // A NaN element would make the mean NaN too: with a finite mean, the spread is simply 0.
  if (Number.isNaN(std) && Number.isFinite(mean) && Number.isFinite(meanAbs)) std = 0;
  const moments = { mean: encodeNum(mean), std: encodeNum(std), meanAbs: encodeNum(meanAbs) };
  const h = e.histograms.find((x) => x.stat === stat);
  if (h) return { ...moments, min: encodeNum(h.min), max: encodeNum(h.max) };
  return Number.isNaN(mean) && Number.isNaN(std) && Number.isNaN(meanAbs) ? undefined : moments;
}

/** Equal-width bins from min to max; more than MAX_BINS are merged in whole groups, so counts stay exact. */
export function histEdges(h: Histogram): { edges: number[]; counts: number[] } | undefined {
  const n = h.counts.length;
  if (n === 0 || !Number.isFinite(h.min) || !Number.isFinite(h.max) || h.max < h.min) return undefined;
  const k = Math.ceil(n / MAX_BINS);
  const w = (h.max - h.min) / n;
  const edges: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < n; i += k) {
    edges.push(h.min + i * w);
    let c = 0;
    for (let j = i; j < Math.min(n, i + k); j++) c += h.counts[j] as number;
    counts.push(c);
  }
  edges.push(h.max);
  return { edges, counts };
}

function scalars(u: Update, layout: ReturnType<typeof paramLayout>): Record<string, Num> {
  const out: Record<string, Num> = { loss: encodeNum(u.score) };
  let devCurrent = 0;
  let devMax = 0;
  for (const m of u.memory) {
    const mb = m.bytes / MB;
    if (m.type === 'JvmCurrent') out['sys/jvm_mb'] = mb;
    else if (m.type === 'JvmMax') out['sys/jvm_max_mb'] = mb;
    else if (m.type === 'OffHeapCurrent') out['sys/offheap_mb'] = mb;
    else if (m.type === 'OffHeapMax') out['sys/offheap_max_mb'] = mb;
    else if (m.type === 'DeviceCurrent') out[`sys/device${devCurrent++}_mem_mb`] = mb;
    else out[`sys/device${devMax++}_max_mem_mb`] = mb;
  }
  const p = u.performance;
  if (p) {
    out['sys/runtime_ms'] = p.totalRuntimeMs;
    out['sys/total_examples'] = p.totalExamples;
    out['sys/total_minibatches'] = p.totalMinibatches;
    out['sys/examples_per_s'] = encodeNum(p.examplesPerSecond);
    out['sys/minibatches_per_s'] = encodeNum(p.minibatchesPerSecond);
  }
  for (const g of u.gc) {
    out[`sys/gc/${safeName(g.name)}/count`] = g.deltaCount;
    out[`sys/gc/${safeName(g.name)}/ms`] = g.deltaTimeMs;
  }
  out['sys/stats_ms'] = u.statsCollectionDuration;
  if ((u.fieldsPresent >>> UPDATE_BITS.learningRates) & 1) Object.assign(out, learningRates(u, layout));
  return out;
}

/**
 * `lr` is the rate of the first weight by name (DL4J usually has one rate for all); when the
 * parameters' rates differ, each also gets `lr/<key>`.
 */
function learningRates(u: Update, layout: ReturnType<typeof paramLayout>): Record<string, Num> {
  const params = u.entries.filter((e) => !e.isLayer);
  if (params.length === 0) return {};
  const weights = params.filter((e) => layout.get(e.name)?.role === 'weight').sort((a, b) => (a.name < b.name ? -1 : 1));
  const first = (weights[0] ?? params[0]) as StatsEntry;
  const out: Record<string, Num> = { lr: encodeNum(first.learningRate) };
  if (params.some((e) => !Object.is(e.learningRate, first.learningRate))) {
    for (const e of params) out[`lr/${e.name}`] = encodeNum(e.learningRate);
  }
  return out;
}

/** Input stats need min and max (the data rules read the range), so only with a histogram. */
function inputsOf(e: StatsEntry): InputStats | undefined {
  const s = statsOf(e, 'Activations');
  return s?.min !== undefined && s.max !== undefined ? { mean: s.mean, std: s.std, min: s.min, max: s.max } : undefined;
}

/**
 * An Update as protocol content; value for value, nothing computed that DL4J did not send.
 * `inputName` is the activation key of the input batch (a ComputationGraph's first input).
 */
export function mapUpdate(u: Update, inputName = 'input'): MappedUpdate {
  const layout = paramLayout(u.paramNames);
  const layers: Record<string, LayerStats> = {};
  const hists: MappedHist[] = [];
  const layer = (name: string): LayerStats => (layers[name] ??= {});
  const hist = (name: string, of: MappedHist['of'], h: Histogram) => {
    const b = histEdges(h);
    if (b) hists.push({ layer: name, of, ...b });
  };
  let inputs: InputStats | undefined;
  for (const e of u.entries) {
    if (e.isLayer) {
      if (e.name === inputName) {
        inputs = inputsOf(e);
        continue;
      }
      const act = statsOf(e, 'Activations');
      if (act) layer(e.name).act = act;
      for (const h of e.histograms) if (h.stat === 'Activations') hist(e.name, 'act', h);
      continue;
    }
    const place = layout.get(e.name);
    if (!place || place.role === 'other') continue;
    if (place.role === 'bias') {
      const b = statsOf(e, 'Parameters');
      if (b) layer(place.layer).bias = b;
      continue;
    }
    for (const stat of ['Parameters', 'Gradients', 'Updates'] as const) {
      const s = statsOf(e, stat);
      if (s) layer(place.layer)[KIND[stat]] = s;
    }
    for (const h of e.histograms) if (h.stat !== 'Activations') hist(place.layer, KIND[h.stat], h);
  }
  const item: MappedUpdate['item'] = { time: u.time / 1000, scalars: scalars(u, layout) };
  if (Object.keys(layers).length > 0) item.layers = layers;
  if (inputs) item.inputs = inputs;
  return { item, hists };
}
