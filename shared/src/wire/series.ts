/**
 * Series naming. Every stored value belongs to one named series of its run:
 *   <scalar>                       scalars as sent: "loss", "lr", "sys/gpu_mem"
 *   layer/<layer>/<of>/<stat>      of = param | grad | update | act | bias
 *   layer/<layer>/update_ratio     derived: log10(update.meanAbs / param.meanAbs)
 *   inputs/<stat>                  training input-batch stats
 *   eval/<split>/<metric>          eval metrics ("eval/val/loss")
 *   eval/<split>/inputs/<stat>     eval input-batch stats
 *   derived/grad_norm_ratio        grad norm of the first layer / the last, forward order
 * Layer names may contain "/" and "."; the last two segments are always <of>/<stat>.
 */
export const STAT_KINDS = ['param', 'grad', 'update', 'act', 'bias'] as const;
export type StatKind = (typeof STAT_KINDS)[number];

export const STAT_FIELDS = [
  'mean', 'std', 'meanAbs', 'min', 'max', 'norm',
  'nonFinite', 'fracZero', 'fracSaturated', 'fracDeadUnits',
] as const;
export type StatField = (typeof STAT_FIELDS)[number];

export const INPUT_FIELDS = ['mean', 'std', 'min', 'max', 'nonFinite'] as const;

/** Prefixes a user's scalar may not start with, so it can never shadow a structured series. */
export const RESERVED_PREFIXES = ['layer/', 'inputs/', 'eval/', 'derived/'] as const;

export const layerSeries = (layer: string, of: StatKind, stat: StatField): string =>
  `layer/${layer}/${of}/${stat}`;
export const updateRatioSeries = (layer: string): string => `layer/${layer}/update_ratio`;
export const inputSeries = (stat: string): string => `inputs/${stat}`;
export const evalSeries = (split: string, metric: string): string => `eval/${split}/${metric}`;
export const evalInputSeries = (split: string, stat: string): string =>
  `eval/${split}/inputs/${stat}`;
export const GRAD_NORM_RATIO = 'derived/grad_norm_ratio';

export interface ParsedSeries {
  kind: 'scalar' | 'layer' | 'inputs' | 'eval' | 'derived';
  layer?: string;
  of?: string;
  stat?: string;
}

export function parseSeries(name: string): ParsedSeries {
  if (name.startsWith('layer/')) {
    const rest = name.slice('layer/'.length);
    if (rest.endsWith('/update_ratio')) {
      return { kind: 'layer', layer: rest.slice(0, -'/update_ratio'.length), stat: 'update_ratio' };
    }
    const parts = rest.split('/');
    const stat = parts.pop();
    const of = parts.pop();
    return { kind: 'layer', layer: parts.join('/'), of, stat };
  }
  if (name.startsWith('inputs/')) return { kind: 'inputs', stat: name.slice(7) };
  if (name.startsWith('eval/')) return { kind: 'eval' };
  if (name.startsWith('derived/')) return { kind: 'derived', stat: name.slice(8) };
  return { kind: 'scalar', stat: name };
}
