/**
 * What gradwatch's rules can use from a DL4J model configuration (StaticInfo's modelConfigJson):
 * layer kinds, activations, initialisations, fan-in/out, frozen layers, the loss, the updater and
 * the regularisation. Both JSON generations are read: "@class" fields (1.0.0-beta and later) and
 * the older one-key wrapper objects ({"dense":{...}}). Anything not understood is left out, never
 * guessed: the parser only ever returns less.
 */
type Obj = Record<string, unknown>;

export interface LayerConf {
  kind: string;
  activation?: string;
  init?: string;
  fanIn?: number;
  fanOut?: number;
  params?: number;
  trainable?: boolean;
  loss?: string;
  updater?: { type: string; lr?: number; momentum?: number };
  l1?: number;
  l2?: number;
  /** DL4J's dropout p: the probability of keeping a unit. */
  dropout?: number;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
const simple = (cls: string): string => cls.slice(cls.lastIndexOf('.') + 1);

/** {"@class":"a.b.Name", ...} or the older {"name": {...}}: the type's simple name and its fields. */
function typed(v: unknown): { type: string; body: Obj } | undefined {
  if (!isObj(v)) return undefined;
  if (typeof v['@class'] === 'string') return { type: simple(v['@class']), body: v };
  const keys = Object.keys(v);
  const inner = keys.length === 1 ? v[keys[0] as string] : undefined;
  return keys.length === 1 && isObj(inner) ? { type: keys[0] as string, body: inner } : undefined;
}

/** "ActivationReLU" → "ReLU"; the older format already says "ReLU" (or "relu"). */
function named(v: unknown, prefix: string): string | undefined {
  if (typeof v === 'string' && v.length > 0) return v;
  const t = typed(v);
  if (!t) return undefined;
  return t.type.startsWith(prefix) && t.type.length > prefix.length ? t.type.slice(prefix.length) : t.type;
}

function fixedValue(v: unknown): number | undefined {
  if (num(v) !== undefined) return num(v);
  const t = typed(v);
  return t ? num(t.body.value) : undefined;
}

function regularization(body: Obj, out: LayerConf): void {
  if (num(body.l1)) out.l1 = num(body.l1);
  if (num(body.l2)) out.l2 = num(body.l2);
  if (!Array.isArray(body.regularization)) return;
  for (const r of body.regularization) {
    const t = typed(r);
    if (t?.type === 'L1Regularization' && fixedValue(t.body.l1) !== undefined) out.l1 = fixedValue(t.body.l1);
    if (t?.type === 'L2Regularization' && fixedValue(t.body.l2) !== undefined) out.l2 = fixedValue(t.body.l2);
  }
}

function updater(body: Obj): LayerConf['updater'] {
  const t = typed(body.iUpdater ?? body.iupdater);
  if (t) {
    const u: NonNullable<LayerConf['updater']> = { type: t.type };
    const lr = num(t.body.learningRate);
    if (lr !== undefined) u.lr = lr;
    const m = num(t.body.momentum);
    if (m !== undefined) u.momentum = m;
    return u;
  }
  // 0.7–0.9: updater enum and rates on the layer itself.
  if (typeof body.updater !== 'string') return undefined;
  const u: NonNullable<LayerConf['updater']> = { type: body.updater };
  if (num(body.learningRate) !== undefined) u.lr = num(body.learningRate);
  if (num(body.momentum) !== undefined) u.momentum = num(body.momentum);
  return u;
}

/** One layer's configuration; undefined when it is not a layer this parser recognises. */
export function layerConf(v: unknown): LayerConf | undefined {
  let t = typed(v);
  if (!t) return undefined;
  let trainable: boolean | undefined;
  if (/^Frozen/.test(t.type)) {
    trainable = false;
    t = typed(t.body.layer);
    if (!t) return undefined;
  }
  const b = t.body;
  const out: LayerConf = { kind: t.type };
  if (trainable === false) out.trainable = false;
  const act = named(b.activationFn, 'Activation') ?? named(b.activationFunction, 'Activation');
  if (act) out.activation = act;
  const init = named(b.weightInitFn, 'WeightInit') ?? named(b.weightInit, 'WeightInit');
  if (init) out.init = init;
  const fanIn = count(b.nin ?? b.nIn);
  const fanOut = count(b.nout ?? b.nOut);
  if (fanIn !== undefined) out.fanIn = fanIn;
  if (fanOut !== undefined) out.fanOut = fanOut;
  // Only where the count follows from nIn/nOut alone: a weight matrix and a bias vector.
  if (fanIn !== undefined && fanOut !== undefined && /^(DenseLayer|OutputLayer|dense|output)$/.test(t.type)) {
    out.params = fanIn * fanOut + (b.hasBias === false ? 0 : fanOut);
  }
  const loss = named(b.lossFn, 'Loss') ?? named(b.lossFunction, 'Loss');
  if (loss) out.loss = loss;
  const u = updater(b);
  if (u) out.updater = u;
  regularization(b, out);
  const drop = typed(b.idropout);
  const p = drop?.type === 'Dropout' ? num(drop.body.p) : num(b.dropOut);
  if (p !== undefined && p > 0 && p < 1) out.dropout = p;
  return out;
}

/**
 * The configured layers by the name their parameters carry: the index for a
 * MultiLayerNetwork, the vertex name for a ComputationGraph.
 */
export function parseModelConfig(json: string): Map<string, LayerConf> {
  const out = new Map<string, LayerConf>();
  if (json.length === 0) return out;
  let root: unknown;
  try {
    root = JSON.parse(json);
  } catch {
    return out;
  }
  if (!isObj(root)) return out;
  if (Array.isArray(root.confs)) {
    root.confs.forEach((c, i) => {
      const l = isObj(c) ? layerConf(c.layer) : undefined;
      if (l) out.set(String(i), l);
    });
  } else if (isObj(root.vertices)) {
    for (const [name, v] of Object.entries(root.vertices)) {
      const t = typed(v);
      const layer = t && isObj(t.body.layerConf) ? layerConf(t.body.layerConf.layer) : undefined;
      if (layer) out.set(name, layer);
    }
  }
  return out;
}

/** The name under which DL4J reports the input batch's activations: "input", or a graph's first input. */
export function inputNameOf(json: string): string {
  try {
    const root: unknown = JSON.parse(json);
    const first = isObj(root) && Array.isArray(root.networkInputs) ? root.networkInputs[0] : undefined;
    return typeof first === 'string' && first.length > 0 ? first : 'input';
  } catch {
    return 'input';
  }
}
