import type { RunDetail, SeriesInfo } from '@gradwatch/shared';
import { parseSeries } from '@gradwatch/shared/wire';

/** Layers in forward order: the model's when it sent one, else as they appear in the series. */
export function layerOrder(detail: Pick<RunDetail, 'model'>, info: readonly SeriesInfo[]): string[] {
  const fromModel = detail.model?.layers.map((l) => l.name) ?? [];
  const seen = new Set(fromModel);
  const out = [...fromModel];
  for (const s of info) {
    const p = parseSeries(s.name);
    if (p.layer !== undefined && !seen.has(p.layer)) {
      seen.add(p.layer);
      out.push(p.layer);
    }
  }
  return out;
}

/** What the overview charts, by chart. */
export function overviewSeries(detail: Pick<RunDetail, 'model'>, info: readonly SeriesInfo[]) {
  const names = info.map((s) => s.name);
  const layers = layerOrder(detail, info);
  const frozen = new Set(detail.model?.layers.filter((l) => l.trainable === false).map((l) => l.name) ?? []);
  const scalars = names.filter((n) => parseSeries(n).kind === 'scalar');
  const evalMetrics = names.filter((n) => n.startsWith('eval/') && !n.includes('/inputs/'));
  const isLoss = (n: string) => /(^|\/)loss$/.test(n);
  const isLr = (n: string) => n === 'lr' || n.startsWith('lr/');
  return {
    layers,
    loss: ['loss', ...scalars.filter((n) => n !== 'loss' && isLoss(n)), ...evalMetrics.filter(isLoss)],
    metrics: [...scalars.filter((n) => !isLoss(n) && !isLr(n) && !n.startsWith('sys/')), ...evalMetrics.filter((n) => !isLoss(n))],
    lr: scalars.filter(isLr).length ? scalars.filter(isLr) : ['lr'],
    ratios: layers.filter((l) => !frozen.has(l)).map((l) => `layer/${l}/update_ratio`),
    std: (of: 'act' | 'grad' | 'update') => layers.map((l) => `layer/${l}/${of}/std`),
    sys: scalars.filter((n) => n.startsWith('sys/')),
  };
}

/** Config keys whose values differ across runs (all keys with showAll). */
export function configDiff(configs: ReadonlyArray<Record<string, unknown>>, showAll = false): string[] {
  const keys = [...new Set(configs.flatMap((c) => Object.keys(c)))].sort();
  if (showAll) return keys;
  return keys.filter((k) => new Set(configs.map((c) => JSON.stringify(c[k] ?? null))).size > 1);
}

/** Healthy activation std, 0.5..2, in the log10 units the std chart draws. */
export const STD_BAND: [number, number] = [Math.log10(0.5), Math.log10(2)];

/** The run's steps, first to last: what every chart of a run view spans when not zoomed. */
export function runExtent(info: readonly SeriesInfo[], lastStep: number | null): [number, number] | null {
  const firsts = info.map((s) => s.firstStep).filter((s): s is number => s !== null);
  const lasts = info.map((s) => s.lastStep).filter((s): s is number => s !== null);
  const hi = Math.max(lastStep ?? -Infinity, ...lasts);
  if (!Number.isFinite(hi)) return null;
  return [Math.min(hi, firsts.length ? Math.min(...firsts) : 0), hi];
}
