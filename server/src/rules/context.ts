/**
 * Per-run facts that several rule families read: the config, the model in forward order and a
 * few running summaries of the loss, learning rate and gradient norm. The engine updates it
 * before any rule sees a step, so every rule reads the same numbers.
 */
import type { LayerInfo, RunInfo, StatKind } from '@gradwatch/shared';
import type { RunFacts } from '../diagnosis/index.js';
import type { EvalView, ModelView, NumStats, StepView } from './types.js';
import { LossTracker, LrTracker } from './trackers.js';
import { isEmbedding, isNormLayer, isRecurrent, isSigmoid, num, str } from './util.js';

/** The reserved scalar: the total gradient norm over all parameters (clip_grad_norm_'s return value). */
export const GRAD_NORM_SCALAR = 'grad_norm';

/**
 * A weight matrix of a module that has several (docs/protocol.md, "sub-layers"): the client
 * names it `<module>.<param>`, e.g. `lstm.weight_hh_l0` (the recurrent matrix of layer 0).
 */
const SUB_LAYER = /^(.+)\.(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$/;

/** Config keys under which a gradient-clipping threshold is commonly logged. */
const CLIP_KEYS = ['gradClip', 'clipGradNorm', 'maxGradNorm', 'max_grad_norm', 'gradient_clip_val', 'clip_grad_norm'];
/** Config keys that give the size of a finite training set. */
const DATASET_KEYS = ['datasetSize', 'trainSize', 'numTrainExamples', 'trainExamples'];

/** Per-layer facts derived once per model message, so per-step loops do no string work. */
export interface LayerFlags {
  trainable: boolean;
  hidden: boolean;
  sigmoid: boolean;
  recurrent: boolean;
  embedding: boolean;
  /** A recurrent (hidden-to-hidden) weight matrix sent as a sub-layer. */
  recurrentWeight: boolean;
  /** The module a sub-layer belongs to (the layer name itself otherwise). */
  module: string;
}

/**
 * One layer of the current step as the rules iterate it. `s.layers` is keyed by layer name, and
 * an object with that many keys is a dictionary to V8: every for…in over it collects its keys
 * again, and every per-layer Map lookup hashes the name. observeStep walks it once per step and
 * fills these rows (one object per layer for the whole run, reused), so the rules loop over an
 * array and keep their per-layer state in arrays indexed by `id`.
 */
export interface LayerRow {
  readonly name: string;
  /** Dense, per run, in first-seen order. */
  readonly id: number;
  /** The model's facts on this layer: undefined before a model, or for a layer it does not name. */
  flags: LayerFlags | undefined;
  /** The model's description of this layer, when it has one. */
  info: LayerInfo | undefined;
  /** This step's stats of the layer. */
  stats: Partial<Record<StatKind, NumStats>>;
  /** This step's update ratio, when it has one. */
  ratio: number | undefined;
}

/** A layer counts as trainable unless the client said otherwise. */
export const isTrainable = (row: LayerRow): boolean => row.flags?.trainable !== false;

const NO_STATS: Partial<Record<StatKind, NumStats>> = Object.freeze({});

export class RunContext {
  run: RunInfo | undefined;
  config: Record<string, unknown> = {};
  model: ModelView | undefined;
  readonly layerIndex = new Map<string, number>();
  readonly layerInfo = new Map<string, LayerInfo>();
  readonly flags = new Map<string, LayerFlags>();
  /** The current (or last seen) step; 0 before any step. */
  step = 0;
  /** The latest step's own time (seconds since the epoch), if it carried one. */
  time: number | undefined = undefined;
  stepsSeen = 0;
  readonly loss = new LossTracker();
  readonly lr = new LrTracker();
  /**
   * Total grad norm of this step: the reserved scalar grad_norm when the client sends it (all
   * parameters), else sqrt of the sum of the layers' squared grad norms, when sent.
   */
  gradNorm: number | undefined;
  /** Whether gradNorm came from the grad_norm scalar. */
  gradNormReported = false;
  /** Training examples seen so far (sum of steps[].examples), and the highest epoch sent. */
  examplesSeen = 0;
  maxEpoch: number | undefined;
  /** The model has LayerNorm/BatchNorm/GroupNorm/RMSNorm layers. */
  hasNorm = false;
  /** Largest finite update ratio over trainable layers this step. */
  maxUpdateRatio: number | undefined;
  /** The layers of the current step, in the order sent (see LayerRow). */
  readonly rows: LayerRow[] = [];
  private readonly rowOf = new Map<string, LayerRow>();

  setRun(run: RunInfo): void {
    this.run = run;
    this.config = run.config ?? {};
  }

  setModel(model: ModelView): void {
    this.model = model;
    this.layerIndex.clear();
    this.layerInfo.clear();
    this.flags.clear();
    this.hasNorm = model.layers.some((l) => isNormLayer(l.kind));
    model.layers.forEach((l, i) => {
      this.layerIndex.set(l.name, i);
      this.layerInfo.set(l.name, l);
      const recurrent = isRecurrent(l.kind);
      const sub = recurrent ? SUB_LAYER.exec(l.name) : null;
      this.flags.set(l.name, {
        trainable: l.trainable !== false,
        hidden: i < model.layers.length - 1,
        sigmoid: isSigmoid(l.activation),
        recurrent,
        embedding: isEmbedding(l.kind),
        recurrentWeight: sub?.[2] === 'weight' && sub[3] === 'hh',
        module: sub?.[1] ?? l.name,
      });
    });
    for (const row of this.rowOf.values()) {
      row.flags = this.flags.get(row.name);
      row.info = this.layerInfo.get(row.name);
    }
  }

  /** The row of a layer, made at its first sight. */
  row(name: string): LayerRow {
    let row = this.rowOf.get(name);
    if (!row) {
      row = { name, id: this.rowOf.size, flags: this.flags.get(name), info: this.layerInfo.get(name), stats: NO_STATS, ratio: undefined };
      this.rowOf.set(name, row);
    }
    return row;
  }

  get layers(): LayerInfo[] {
    return this.model?.layers ?? [];
  }

  lastLayer(): LayerInfo | undefined {
    const ls = this.layers;
    return ls[ls.length - 1];
  }

  isLastLayer(name: string): boolean {
    return this.lastLayer()?.name === name;
  }

  cfgNum(key: string): number | undefined {
    return num(this.config[key]);
  }

  cfgStr(key: string): string | undefined {
    return str(this.config[key]);
  }

  optimizerType(): string | undefined {
    const fromModel = this.model?.optimizer?.type;
    if (fromModel) return fromModel;
    const c = this.config.optimizer;
    if (typeof c === 'string') return c;
    if (c && typeof c === 'object') return str((c as Record<string, unknown>).type);
    return undefined;
  }

  /** An optimizer hyper-parameter from the model message, else from config. */
  optimizerNum(key: 'lr' | 'momentum' | 'weightDecay'): number | undefined {
    const fromModel = num(this.model?.optimizer?.[key]);
    if (fromModel !== undefined) return fromModel;
    const c = this.config.optimizer;
    if (c && typeof c === 'object') {
      const v = num((c as Record<string, unknown>)[key]);
      if (v !== undefined) return v;
    }
    return this.cfgNum(key);
  }

  /** The gradient-clipping threshold from the config, when the run logs one. */
  gradClip(): number | undefined {
    for (const k of CLIP_KEYS) {
      const v = this.cfgNum(k);
      if (v !== undefined && v > 0) return v;
    }
    return undefined;
  }

  /**
   * Whether the training data has been seen more than once: from the epochs the client sends
   * (0-based: epoch >= 1 is a second pass), else from examples against a configured data-set
   * size. undefined when nothing tells.
   */
  repeatedData(): boolean | undefined {
    if (this.maxEpoch !== undefined) return this.maxEpoch >= 1;
    const n = DATASET_KEYS.map((k) => this.cfgNum(k)).find((v) => v !== undefined && v > 0);
    if (n !== undefined && this.examplesSeen > 0) return this.examplesSeen > n;
    return undefined;
  }

  /** What the diagnosis layer reads to put numbers into its advice. */
  facts(ended: boolean): RunFacts {
    return {
      step: this.step,
      ended,
      lr: this.lr.value ?? this.optimizerNum('lr'),
      batchSize: this.cfgNum('batchSize'),
      optimizer: this.optimizerType(),
      weightDecay: this.optimizerNum('weightDecay') ?? this.cfgNum('l2'),
      gradClip: this.gradClip(),
      gradNorm: this.gradNorm,
    };
  }

  worldSize(): number | undefined {
    return this.run?.worldSize ?? this.cfgNum('worldSize');
  }

  /** Updates the shared summaries from a step, before the rules run. */
  observeEval(ev: EvalView): void {
    if (ev.epoch !== undefined) this.maxEpoch = Math.max(this.maxEpoch ?? 0, ev.epoch);
  }

  observeStep(s: StepView): void {
    this.step = s.step;
    this.time = s.time;
    this.stepsSeen++;
    if (s.examples !== undefined) this.examplesSeen += s.examples;
    if (s.epoch !== undefined) this.maxEpoch = Math.max(this.maxEpoch ?? 0, s.epoch);
    this.loss.push(s.scalars.loss);
    this.lr.push(s.scalars.lr);
    let sq = 0;
    let any = false;
    let maxRatio = Number.NEGATIVE_INFINITY;
    const rows = this.rows;
    rows.length = 0;
    for (const name in s.layers) {
      const row = this.row(name);
      const stats = (row.stats = s.layers[name] ?? NO_STATS);
      const r = (row.ratio = s.updateRatio[name]);
      rows.push(row);
      const n = stats.grad?.norm;
      if (n !== undefined && Number.isFinite(n)) {
        sq += n * n;
        any = true;
      }
      if (r !== undefined && Number.isFinite(r) && isTrainable(row)) maxRatio = Math.max(maxRatio, r);
    }
    const reported = s.scalars[GRAD_NORM_SCALAR];
    this.gradNormReported = reported !== undefined && Number.isFinite(reported);
    this.gradNorm = this.gradNormReported ? reported : any ? Math.sqrt(sq) : undefined;
    this.maxUpdateRatio = Number.isFinite(maxRatio) ? maxRatio : undefined;
  }
}
