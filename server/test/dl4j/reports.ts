/**
 * Builds StatsListener reports the way BaseStatsListener fills them (reference §4): summaries
 * and 20-bin histograms computed from real arrays, parameter names in a HashMap-like (here:
 * reversed) order, NaN for a parameter missing from a map that is present.
 */
import { A, G, MEAN, MM, P, STDEV, U, type EntryIn, type HistIn, type StaticIn, type UpdateIn } from './sbe-encoder.js';

export interface TensorStats {
  mean: number;
  std: number;
  meanAbs: number;
  hist: HistIn;
}

export function tensorStats(x: number[], stat: number, bins = 20): TensorStats {
  const n = x.length;
  const mean = x.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const meanAbs = x.reduce((a, b) => a + Math.abs(b), 0) / n;
  const min = Math.min(...x);
  const max = Math.max(...x);
  const counts = new Array<number>(bins).fill(0);
  const w = (max - min) / bins;
  for (const v of x) {
    const i = w > 0 ? Math.min(bins - 1, Math.floor((v - min) / w)) : 0;
    counts[i] = (counts[i] as number) + 1;
  }
  return { mean, std, meanAbs, hist: { stat, min, max, counts } };
}

/** Deterministic pseudo-random arrays (no Math.random: failures must replay). */
export function series(seed: number, n: number, scale: number, offset = 0): number[] {
  let s = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(offset + ((s / 2 ** 32) * 2 - 1) * scale);
  }
  return out;
}

export interface ReportSpec {
  time: number;
  iteration: number;
  score: number;
  /** Per parameter key: the arrays of each StatsType present, and its learning rate. */
  params: Record<string, { P?: number[]; G?: number[]; U?: number[]; lr?: number }>;
  /** Per layer name (activations), including "input". */
  acts?: Record<string, number[]>;
  memory?: Array<[number, number]>;
  performance?: UpdateIn['performance'];
  gc?: UpdateIn['gc'];
  learningRates?: boolean;
  /** false: summaries only, as with histograms off in StatsUpdateConfiguration or SameDiffStatsListener. */
  histograms?: boolean;
  sessionId?: string;
  workerId?: string;
  typeId?: string;
}

const KINDS = [['P', P], ['G', G], ['U', U]] as const;

export function buildUpdate(spec: ReportSpec): UpdateIn {
  const paramNames = Object.keys(spec.params).reverse();
  const layerNames = Object.keys(spec.acts ?? {});
  // A map is present when any parameter has it; one parameter lacking it then gets NaN.
  const present = KINDS.filter(([k]) => paramNames.some((p) => spec.params[p]?.[k] !== undefined));
  const entries: EntryIn[] = paramNames.map((name) => {
    const p = spec.params[name] as ReportSpec['params'][string];
    const e: EntryIn = { learningRate: spec.learningRates === false ? 0 : (p.lr ?? 0), summaries: [], histograms: [] };
    for (const [k, st] of present) {
      const arr = p[k];
      const s = arr ? tensorStats(arr, st) : undefined;
      e.summaries.push([st, MEAN, s ? s.mean : NaN], [st, STDEV, s ? s.std : NaN], [st, MM, s ? s.meanAbs : NaN]);
    }
    for (const [k, st] of KINDS) {
      const arr = p[k];
      if (arr && spec.histograms !== false) e.histograms.push(tensorStats(arr, st).hist);
    }
    return e;
  });
  for (const l of layerNames) {
    const s = tensorStats((spec.acts as Record<string, number[]>)[l] as number[], A);
    entries.push({ learningRate: 0, summaries: [[A, MEAN, s.mean], [A, STDEV, s.std], [A, MM, s.meanAbs]], histograms: spec.histograms === false ? [] : [s.hist] });
  }
  let bits = 1;
  if (spec.memory?.length) bits |= 1 << 1;
  if (spec.performance) bits |= 1 << 2;
  if (spec.gc?.length) bits |= 1 << 3;
  for (const [k, st] of present) {
    if (st !== G) bits |= 1 << (st === P ? 4 : 6);
    bits |= 1 << (8 + st);
    bits |= 1 << (16 + st);
    void k;
  }
  if (layerNames.length) bits |= (1 << 7) | (1 << 11) | (1 << 19);
  if (spec.learningRates !== false) bits |= 1 << 20;
  return {
    time: spec.time,
    iteration: spec.iteration,
    fieldsPresent: bits,
    statsDurationMs: 3,
    score: spec.score,
    memory: spec.memory ?? [],
    ...(spec.performance ? { performance: spec.performance } : {}),
    gc: spec.gc ?? [],
    paramNames,
    layerNames,
    entries,
    sessionId: spec.sessionId ?? 'sess-1',
    typeId: spec.typeId ?? 'StatsListener',
    workerId: spec.workerId ?? 'jvm1_1',
  };
}

/** A MultiLayerNetwork 4 → 8 (ReLU, Xavier) → 3 (softmax, MCXENT), Adam 1e-3, in the @class JSON format. */
export const MLN_JSON = JSON.stringify({
  backpropType: 'Standard',
  confs: [
    {
      layer: {
        '@class': 'org.deeplearning4j.nn.conf.layers.DenseLayer',
        activationFn: { '@class': 'org.nd4j.linalg.activations.impl.ActivationReLU' },
        weightInitFn: { '@class': 'org.deeplearning4j.nn.weights.WeightInitXavier' },
        iUpdater: { '@class': 'org.nd4j.linalg.learning.config.Adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
        regularization: [{ '@class': 'org.nd4j.linalg.learning.regularization.L2Regularization', l2: { '@class': 'org.nd4j.linalg.schedule.FixedSchedule', value: 1e-4 } }],
        nin: 4,
        nout: 8,
        hasBias: true,
      },
    },
    {
      layer: {
        '@class': 'org.deeplearning4j.nn.conf.layers.OutputLayer',
        activationFn: { '@class': 'org.nd4j.linalg.activations.impl.ActivationSoftmax' },
        weightInitFn: { '@class': 'org.deeplearning4j.nn.weights.WeightInitXavier' },
        iUpdater: { '@class': 'org.nd4j.linalg.learning.config.Adam', learningRate: 0.001 },
        lossFn: { '@class': 'org.nd4j.linalg.lossfunctions.impl.LossMCXENT' },
        nin: 8,
        nout: 3,
      },
    },
  ],
});

export function buildStatic(over: Partial<StaticIn> = {}): StaticIn {
  return {
    time: 1_700_000_000_000,
    software: true,
    hardware: true,
    model: true,
    jvmProcessors: 16,
    jvmMaxMemory: 4 * 2 ** 30,
    offheapMaxMemory: 8 * 2 ** 30,
    numLayers: 2,
    numParams: 4 * 8 + 8 + 8 * 3 + 3,
    devices: [],
    environment: [['blas.vendor', 'OPENBLAS'], ['os', 'Linux']],
    paramNames: ['0_W', '0_b', '1_W', '1_b'],
    sessionId: 'sess-1',
    typeId: 'StatsListener',
    workerId: 'jvm1_1',
    sw: ['amd64', 'Linux', 'OpenJDK 64-Bit Server VM', '17.0.9', '17', 'org.nd4j.linalg.cpu.nativecpu.CpuNDArrayFactory', 'FLOAT', 'trainbox\n', 'jvm1'],
    hardwareUid: 'a1b2c3',
    modelClass: 'org.deeplearning4j.nn.multilayer.MultiLayerNetwork',
    modelJson: MLN_JSON,
    ...over,
  };
}

/** Arrays for the 4 → 8 → 3 network at one iteration (shapes as DL4J's: W is nIn×nOut). */
export function mlnParams(it: number): ReportSpec['params'] {
  return {
    '0_W': { P: series(it * 7 + 1, 32, 0.5), G: series(it * 7 + 2, 32, 0.01), U: series(it * 7 + 3, 32, 1e-3), lr: 0.001 },
    '0_b': { P: series(it * 7 + 4, 8, 0.1), G: series(it * 7 + 5, 8, 0.01), U: series(it * 7 + 6, 8, 1e-3), lr: 0.001 },
    '1_W': { P: series(it * 7 + 8, 24, 0.4), G: series(it * 7 + 9, 24, 0.02), U: series(it * 7 + 10, 24, 2e-3), lr: 0.001 },
    '1_b': { P: series(it * 7 + 11, 3, 0.1), G: series(it * 7 + 12, 3, 0.02), U: series(it * 7 + 13, 3, 2e-3), lr: 0.001 },
  };
}
