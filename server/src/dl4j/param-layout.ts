/**
 * How DL4J parameter keys become gradwatch layers. A key is "<layer>_<param>" (MultiLayerNetwork:
 * "0_W"; ComputationGraph: "dense1_W", and layer names may hold underscores, so the split is at
 * the last one); a key without an underscore is a layer of its own. Each layer's stats describe
 * its main weight tensor, as in the protocol; its bias is the layer's `bias`.
 */
export type ParamRole = 'weight' | 'bias' | 'other';

export interface ParamPlace {
  layer: string;
  role: ParamRole;
}

const WEIGHTS = ['W', 'gamma'];
const BIASES = ['b', 'beta', 'bias'];

export function splitKey(key: string): { layer: string; param: string } {
  const i = key.lastIndexOf('_');
  if (i <= 0 || i === key.length - 1) return { layer: key, param: '' };
  return { layer: key.slice(0, i), param: key.slice(i + 1) };
}

/**
 * Places every key. Within a layer the weight is W, else gamma (BatchNorm), else the first key
 * (by name, since DL4J's order is a HashMap's) ending in w/W, as DL4J's own UI picks weights;
 * the bias is b, else beta. Other parameters (an LSTM's RW, BatchNorm's running mean and var)
 * have no place in the protocol's layer stats.
 */
export function paramLayout(keys: readonly string[]): Map<string, ParamPlace> {
  const groups = new Map<string, Array<{ key: string; param: string }>>();
  for (const key of keys) {
    const { layer, param } = splitKey(key);
    let g = groups.get(layer);
    if (!g) groups.set(layer, (g = []));
    g.push({ key, param });
  }
  const out = new Map<string, ParamPlace>();
  for (const [layer, members] of groups) {
    const sorted = [...members].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const weight =
      WEIGHTS.map((w) => sorted.find((m) => m.param === w)).find((m) => m !== undefined) ??
      sorted.find((m) => m.param === '' || /w$/i.test(m.param)) ??
      sorted.find((m) => !BIASES.includes(m.param));
    const bias = BIASES.map((b) => sorted.find((m) => m.param === b && m !== weight)).find((m) => m !== undefined);
    for (const m of members) out.set(m.key, { layer, role: m === weight ? 'weight' : m === bias ? 'bias' : 'other' });
  }
  return out;
}

/** Layer names in the order their parameters first appear (a model's paramTable order). */
export function layerOrder(keys: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const k of keys) seen.add(splitKey(k).layer);
  return [...seen];
}
