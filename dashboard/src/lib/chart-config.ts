import type { ChartData, ChartDataset, ChartOptions, TooltipItem } from 'chart.js';
import type { XAxis } from '@gradwatch/shared';
import type { Bin } from './buckets';
import { ema, shapeSeries, type Marker, type XY } from './chart-data';
import { alpha, MARKER_COLORS } from './colors';
import { fmtClock, fmtNum, fmtStep } from './format';
import type { StepIndex } from './step-index';
import { AUX_ROLES, type GwDatasetExtras } from './chart-setup';

export interface SeriesSpec {
  label: string;
  color: string;
  /** Read at each redraw: the buffers change in place as live points arrive. */
  bins: () => readonly Bin[];
  transform?: 'log10';
  dashed?: boolean;
  envelope?: boolean;
  /** Overrides the chart's step index (overlaid runs each have their own). */
  index?: StepIndex | null;
}

export interface ChartSpec {
  series: SeriesSpec[];
  axis: XAxis;
  index: StepIndex | null;
  logY: boolean;
  /** EMA weight, 0 (off) to 0.99. */
  smoothing: number;
  /** Steps to highlight (an alert's range). */
  highlight?: [number, number] | null;
  /** A step drawn as a vertical line (a diagnosis's onset). */
  onset?: number | null;
  /** Healthy y band, drawn behind the data. */
  band?: [number, number] | null;
  /** Zoomed range in steps; null shows everything. */
  range?: [number, number] | null;
  /**
   * The run's steps, first to last: unzoomed, every chart of a view spans at least these, so the
   * x axes line up even where a series stops early (layer stats sent every few steps).
   */
  extent?: [number, number] | null;
  yTitle?: string;
}

export interface Theme {
  text: string;
  grid: string;
}

type DS = ChartDataset<'line', XY[]> & GwDatasetExtras;

/**
 * A line of this many points or more is drawn 1 px wide, and its envelope as bars. A wider stroke of a jagged line (a noisy
 * loss at one point per pixel) is turned into a self-overlapping outline first: in Chromium
 * without a GPU, nine such lines of 600 points took 267 ms to rasterise at 1.5 px, 5 ms at 1 px.
 */
export const DENSE_LINE = 150;
const lineWidth = (points: number): number => (points >= DENSE_LINE ? 1 : 1.5);

const MARKER_STYLE = {
  nan: { label: 'NaN', pointStyle: 'crossRot', rotation: 0 },
  posInf: { label: '+Infinity', pointStyle: 'triangle', rotation: 0 },
  negInf: { label: '-Infinity', pointStyle: 'triangle', rotation: 180 },
} as const;

/** Every dataset a chart draws, built from plain data so it can be unit tested. */
export function buildData(spec: ChartSpec): ChartData<'line', XY[]> {
  const datasets: DS[] = [];
  const markers: Marker[] = [];
  for (const s of spec.series) {
    const sh = shapeSeries(s.label, s.bins(), {
      axis: spec.axis, index: s.index !== undefined ? s.index : spec.index, logY: spec.logY,
      ...(s.transform ? { transform: s.transform } : {}), ...(s.envelope ? { envelope: true } : {}),
    });
    markers.push(...sh.markers);
    // Envelopes of many overlaid series are unreadable and dominate drawing time (a filled area
    // per series): with more than a few series, lines only.
    const envelope = s.envelope || (sh.coarse && spec.series.length <= 4);
    const base = { parsing: false as const, normalized: true, pointRadius: 0, pointHitRadius: 4, spanGaps: false, borderWidth: 1.5 };
    if (envelope) {
      datasets.push({ ...base, label: `${s.label} min`, gwRole: 'lo', data: sh.lo, borderWidth: 0, backgroundColor: 'transparent', fill: false });
      const fill = alpha(s.color, 0.15);
      // Dense, the area between min and max is drawn as bars: see envelope-plugin.ts.
      const bars = sh.hi.length >= DENSE_LINE ? { fill: false, gwBars: fill } : { fill: '-1' };
      datasets.push({ ...base, label: `${s.label} max`, gwRole: 'hi', data: sh.hi, borderWidth: 0, backgroundColor: fill, ...bars });
    }
    const smooth = spec.smoothing > 0;
    if (smooth) datasets.push({ ...base, label: `${s.label} raw`, gwRole: 'raw', data: sh.line, borderColor: alpha(s.color, 0.3), backgroundColor: s.color, borderWidth: 1 });
    datasets.push({
      ...base, label: s.label, gwRole: 'line', data: smooth ? ema(sh.line, spec.smoothing) : sh.line,
      borderColor: s.color, backgroundColor: s.color, borderWidth: lineWidth(sh.line.length), ...(s.dashed ? { borderDash: [6, 3] } : {}),
      // A lone point between gaps would be invisible as a line: give short series visible dots.
      pointRadius: sh.line.length <= 30 ? 2.5 : 0,
    });
  }
  for (const kind of ['nan', 'posInf', 'negInf'] as const) {
    const pts = markers.filter((m) => m.kind === kind);
    if (pts.length === 0) continue;
    const st = MARKER_STYLE[kind];
    datasets.push({
      label: st.label, gwRole: 'marker', yAxisID: 'ym', data: pts, parsing: false, showLine: false,
      pointStyle: st.pointStyle, pointRotation: st.rotation, pointRadius: 7, pointHoverRadius: 9, pointBorderWidth: 2.5,
      borderColor: MARKER_COLORS[kind], backgroundColor: MARKER_COLORS[kind],
    });
  }
  if (spec.highlight) {
    const [a, b] = spec.highlight;
    const xa = spec.index ? spec.index.x(a, spec.axis) : a;
    const xb = spec.index ? spec.index.x(b, spec.axis) : b;
    if (xa !== null && xb !== null) {
      // A filled rectangle on the hidden 0..1 axis: part of the data, so tests can read it.
      datasets.push({
        label: `alert steps ${a}–${b}`, gwRole: 'highlight', yAxisID: 'ym', parsing: false, order: 10,
        data: [{ x: xa, y: 0 }, { x: xa, y: 1 }, { x: xb, y: 1 }, { x: xb, y: 0 }],
        fill: 'origin', pointRadius: 0, borderWidth: 1.5, borderColor: 'rgba(242,142,43,0.9)', backgroundColor: 'rgba(242,142,43,0.18)',
      });
    }
  }
  if (spec.onset !== undefined && spec.onset !== null) {
    const x = spec.index ? spec.index.x(spec.onset, spec.axis) : spec.onset;
    if (x !== null) {
      datasets.push({
        label: `onset step ${spec.onset}`, gwRole: 'onset', yAxisID: 'ym', parsing: false, order: 10,
        data: [{ x, y: 0 }, { x, y: 1 }], pointRadius: 0, borderWidth: 2, borderDash: [5, 3], borderColor: 'rgba(214,39,40,0.9)', fill: false,
      });
    }
  }
  return { datasets };
}

function tickX(axis: XAxis) {
  return (v: number | string) => {
    const n = Number(v);
    if (axis === 'time') return fmtClock(n);
    if (axis === 'epoch') return n.toFixed(Math.abs(n) < 10 ? 1 : 0);
    return fmtStep(n);
  };
}

/**
 * Log axes label 1, 2 and 5 of each decade only: chart.js's own ticks crowd into each other.
 * Far from 1 a label is mantissa and exponent ("2e-5", "1e+304"), short enough to stack.
 */
export function logTick(v: number, dense = false): string {
  if (!(v > 0)) return '';
  const e = Math.floor(Math.log10(v) + 1e-9);
  const m = v / 10 ** e;
  // Over many decades, 2 and 5 crowd too: powers of ten only.
  const k = (dense ? [1] : [1, 2, 5]).find((c) => Math.abs(m - c) < 1e-6);
  if (k === undefined) return '';
  return Math.abs(e) >= 4 ? `${k}e${e > 0 ? '+' : ''}${e}` : fmtNum(v, 2);
}

export function markerText(m: Marker): string {
  const what = MARKER_STYLE[m.kind].label;
  const where = m.fromStep === m.toStep ? `at step ${m.fromStep}` : `in steps ${m.fromStep}–${m.toStep}`;
  return `${m.series}: ${what}${m.count > 1 ? ` ×${m.count}` : ''} ${where}`;
}

export function buildOptions(spec: ChartSpec, theme: Theme, legend: boolean): ChartOptions<'line'> {
  const toX = (step: number): number | null => (spec.axis === 'step' ? step : spec.index ? spec.index.x(step, spec.axis) : null);
  const pair = (r: [number, number] | null | undefined): [number, number] | null => {
    const a = r ? toX(r[0]) : null;
    const b = r ? toX(r[1]) : null;
    return a !== null && b !== null ? [a, b] : null;
  };
  const zoom = pair(spec.range);
  // Suggested, not fixed: a live point past the run's last known step still shows.
  const span = zoom ? null : pair(spec.extent);
  // A band is in the chart's own (log10) units: on a log axis it would mean something else.
  const band = spec.logY ? null : (spec.band ?? null);
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: 'gwNearestX', intersect: false },
    scales: {
      x: {
        type: 'linear',
        ...(zoom ? { min: zoom[0], max: zoom[1] } : {}),
        ...(span ? { suggestedMin: span[0], suggestedMax: span[1] } : {}),
        ticks: { color: theme.text, callback: tickX(spec.axis), maxRotation: 0, autoSkipPadding: 12, ...(spec.axis === 'step' ? { precision: 0 } : {}) },
        grid: { color: theme.grid },
        title: { display: true, text: spec.axis, color: theme.text },
      },
      y: {
        type: spec.logY ? 'logarithmic' : 'linear',
        // A chart with a healthy band always shows it, so a line's distance from it reads at a glance.
        ...(band ? { suggestedMin: band[0] - 0.5, suggestedMax: band[1] + 0.5 } : {}),
        ticks: { color: theme.text, callback: (v, _i, ticks) => (spec.logY ? logTick(Number(v), ticks.length > 14) : fmtNum(Number(v), 3)) },
        grid: { color: theme.grid },
        ...(spec.yTitle ? { title: { display: true, text: spec.yTitle, color: theme.text } } : {}),
      },
      ym: { type: 'linear', min: 0, max: 1, display: false },
    },
    plugins: {
      legend: {
        display: legend,
        labels: { color: theme.text, boxWidth: 12, filter: (item, data) => !AUX_ROLES.has((data.datasets[item.datasetIndex ?? 0] as GwDatasetExtras).gwRole ?? '') },
      },
      tooltip: {
        callbacks: {
          title: (items) => (items[0] ? tickX(spec.axis)((items[0].raw as XY).x) : ''),
          label: (item: TooltipItem<'line'>) => {
            const raw = item.raw as XY | Marker;
            if ('kind' in raw) return markerText(raw);
            return `${item.dataset.label ?? ''}: ${fmtNum(raw.y, 5)}`;
          },
        },
      },
      gwBand: band ? { lo: band[0], hi: band[1], color: 'rgba(89,161,79,0.13)' } : null,
    },
  };
}
