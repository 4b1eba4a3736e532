import {
  BarController, BarElement, CategoryScale, Chart, Filler, Interaction, Legend, LinearScale,
  LineController, LineElement, LogarithmicScale, PointElement, ScatterController, Tooltip,
  type ActiveElement, type ChartEvent, type ChartType, type InteractionItem, type InteractionOptions, type Plugin,
} from 'chart.js';
import { getRelativePosition } from 'chart.js/helpers';

/** Only what the dashboard draws is registered: this keeps chart.js's share of the bundle small. */
Chart.register(
  LineController, ScatterController, BarController, LineElement, PointElement, BarElement,
  LinearScale, LogarithmicScale, CategoryScale, Filler, Tooltip, Legend,
);

/** Dataset roles that are drawing aids, not values: no legend entry, no tooltip. */
export const AUX_ROLES = new Set(['lo', 'hi', 'highlight', 'onset', 'raw']);

export interface GwDatasetExtras {
  gwRole?: 'line' | 'lo' | 'hi' | 'raw' | 'marker' | 'highlight' | 'onset';
  /** On a dense envelope's 'hi' dataset: its fill colour, drawn as bars (envelope-plugin.ts). */
  gwBars?: string;
}

declare module 'chart.js' {
  interface InteractionModeMap {
    gwNearestX: (chart: Chart, e: ChartEvent, options: InteractionOptions, useFinalPosition?: boolean) => InteractionItem[];
  }
  // The type parameter must match chart.js's declaration for the interfaces to merge.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  interface PluginOptionsByType<TType extends ChartType> {
    /** A horizontal band of healthy values (update:param ratio -4..-2). */
    gwBand?: { lo: number; hi: number; color: string } | null;
  }
}

/**
 * Hover shows, for every series, its point nearest the pointer's x. chart.js's own 'index' mode
 * assumes every dataset has the same x values, which is false for overlaid runs and markers.
 */
Interaction.modes.gwNearestX = (chart, e, _options, useFinalPosition) => {
  const pos = getRelativePosition(e, chart as never);
  const items: InteractionItem[] = [];
  chart.data.datasets.forEach((ds, di) => {
    const role = (ds as GwDatasetExtras).gwRole;
    if ((role && AUX_ROLES.has(role)) || !chart.isDatasetVisible(di)) return;
    const els = chart.getDatasetMeta(di).data;
    let lo = 0;
    let hi = els.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((els[mid]?.getProps(['x'], useFinalPosition).x ?? 0) < pos.x) lo = mid + 1;
      else hi = mid;
    }
    let best = -1;
    let bestD = role === 'marker' ? 8 : 40;
    for (const i of [lo - 1, lo]) {
      const el = els[i];
      if (!el) continue;
      const p = el.getProps(['x', 'y', 'skip'], useFinalPosition) as { x: number; y: number; skip?: boolean };
      const d = Math.abs(p.x - pos.x);
      if (!p.skip && Number.isFinite(p.y) && d <= bestD) {
        best = i;
        bestD = d;
      }
    }
    const el = els[best];
    if (el) items.push({ element: el, datasetIndex: di, index: best });
  });
  return items;
};

/** Draws the gwBand option behind the datasets. */
export const bandPlugin: Plugin = {
  id: 'gwBand',
  beforeDatasetsDraw(chart, _args, opts: { lo?: number; hi?: number; color?: string } | undefined) {
    if (!opts || opts.lo === undefined || opts.hi === undefined) return;
    const y = chart.scales.y;
    if (!y) return;
    const { left, right, top, bottom } = chart.chartArea;
    const y0 = Math.max(top, Math.min(bottom, y.getPixelForValue(opts.hi)));
    const y1 = Math.max(top, Math.min(bottom, y.getPixelForValue(opts.lo)));
    const ctx = chart.ctx;
    ctx.save();
    ctx.fillStyle = opts.color ?? 'rgba(89,161,79,0.12)';
    ctx.fillRect(left, y0, right - left, y1 - y0);
    ctx.restore();
  },
};

export type { ActiveElement };
export { Chart };
