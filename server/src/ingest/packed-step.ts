import { STAT_FIELDS, STAT_KINDS, type InputStats, type StatKind } from '@gradwatch/shared';
import type { NumStats, StepView } from '../rules/types.js';
import { finishStep, namesOf, pushRatio, type DecodedStep, type LayerOrder } from './decode.js';

export const KINDS = STAT_KINDS.length;
export const FIELDS = STAT_FIELDS.length;
/** mean, std, meanAbs, min, max: the first five STAT_FIELDS. */
const MOMENTS_AND_RANGE = 0b11111;

/**
 * A step read straight from a MessagePack `steps` frame (steps-frame.ts): what a StepItem says,
 * with every number decoded and the layers' statistics in flat arrays instead of an object per
 * layer and kind. The schema never sees it; the reader only makes one of a frame that the schema
 * would take as it is.
 */
export interface PackedStep {
  readonly packed: true;
  step: number;
  epoch?: number;
  time?: number;
  examples?: number;
  /** In the order Object.entries lists the general path's object: array indices first, then as sent. */
  scalarNames: string[];
  scalarValues: number[];
  layerNames: string[];
  /** Per layer and STAT_KINDS entry, the STAT_FIELDS present as bits; 0 when that kind is absent. */
  masks: Uint16Array;
  /** Per layer, kind and field (layer * KINDS * FIELDS + kind * FIELDS + field). */
  vals: Float64Array;
  inputs?: InputStats;
}

/** A `steps` message whose items were read by the fast path. */
export interface PackedStepsMsg {
  type: 'steps';
  seq: number;
  items: PackedStep[];
}

/** decodeStep of a packed step: the same names, values and view, in the same order. */
export function decodePackedStep(item: PackedStep, order: LayerOrder): DecodedStep {
  const names: string[] = [];
  const values: number[] = [];
  const scalars: Record<string, number> = {};
  for (let i = 0; i < item.scalarNames.length; i++) {
    const k = item.scalarNames[i] as string;
    const v = item.scalarValues[i] as number;
    scalars[k] = v;
    names.push(k);
    values.push(v);
  }
  const layers: StepView['layers'] = {};
  const updateRatio: Record<string, number> = {};
  for (let l = 0; l < item.layerNames.length; l++) {
    const layer = item.layerNames[l] as string;
    const layerNames = namesOf(order, layer);
    const decoded: Partial<Record<StatKind, NumStats>> = {};
    for (let k = 0; k < KINDS; k++) {
      const mask = item.masks[l * KINDS + k] as number;
      if (mask === 0) continue;
      const base = (l * KINDS + k) * FIELDS;
      let d: Record<string, number>;
      if (mask === MOMENTS_AND_RANGE) {
        // What nearly every client sends: one object shape, no keyed stores.
        const v = item.vals;
        d = { mean: v[base] as number, std: v[base + 1] as number, meanAbs: v[base + 2] as number, min: v[base + 3] as number, max: v[base + 4] as number };
      } else {
        d = {};
        for (let f = 0; f < FIELDS; f++) if (mask & (1 << f)) d[STAT_FIELDS[f] as string] = item.vals[base + f] as number;
      }
      for (let f = 0; f < FIELDS; f++) {
        if ((mask & (1 << f)) === 0) continue;
        names.push(layerNames[k * FIELDS + f] as string);
        values.push(item.vals[base + f] as number);
      }
      decoded[STAT_KINDS[k] as StatKind] = d as unknown as NumStats;
    }
    layers[layer] = decoded;
    pushRatio(layer, decoded, layerNames, order, updateRatio, names, values);
  }
  return finishStep(item, scalars, layers, updateRatio, names, values, order);
}
