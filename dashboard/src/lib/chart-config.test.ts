import { describe, expect, it } from 'vitest';
import { pointBin } from './buckets';
import { buildData, buildOptions, DENSE_LINE, logTick, markerText, type ChartSpec } from './chart-config';
import { AUX_ROLES } from './chart-setup';

const spec = (over: Partial<ChartSpec> = {}): ChartSpec => ({
  series: [{ label: 'loss', color: '#4e79a7', bins: () => [pointBin(0, 2), pointBin(1, 'NaN'), pointBin(2, 1)] }],
  axis: 'step', index: null, logY: false, smoothing: 0, ...over,
});

type DS = { label?: string; gwRole?: string; data: Array<{ x: number; y: number | null }> };

describe('buildData', () => {
  it('draws a line, and a NaN marker dataset on the hidden axis', () => {
    const ds = buildData(spec()).datasets as unknown as DS[];
    expect(ds.map((d) => [d.label, d.gwRole])).toEqual([['loss', 'line'], ['NaN', 'marker']]);
    expect(ds[1]?.data[0]).toMatchObject({ x: 1, kind: 'nan' });
  });

  it('adds the raw line behind a smoothed one', () => {
    const ds = buildData(spec({ smoothing: 0.6 })).datasets as unknown as DS[];
    expect(ds.filter((d) => d.gwRole === 'raw')).toHaveLength(1);
  });

  it('marks an onset as a vertical line on the hidden axis, off the legend', () => {
    const ds = buildData(spec({ onset: 7 })).datasets as unknown as DS[];
    const o = ds.find((d) => d.gwRole === 'onset');
    expect(o?.label).toBe('onset step 7');
    expect(o?.data).toEqual([{ x: 7, y: 0 }, { x: 7, y: 1 }]);
    expect(AUX_ROLES.has('onset')).toBe(true);
    expect(buildData(spec({ onset: null })).datasets.some((d) => (d as unknown as DS).gwRole === 'onset')).toBe(false);
  });

  it('draws a dense line 1 px wide, which software rasterisation strokes far faster', () => {
    const width = (n: number) => {
      const bins = () => Array.from({ length: n }, (_, i) => pointBin(i, i % 2));
      const ds = buildData(spec({ series: [{ label: 'loss', color: '#4e79a7', bins }] })).datasets as unknown as Array<DS & { borderWidth: number }>;
      return ds.find((d) => d.gwRole === 'line')?.borderWidth;
    };
    expect(width(DENSE_LINE - 1)).toBe(1.5);
    expect(width(DENSE_LINE)).toBe(1);
  });

  it('highlights an alert range as a filled rectangle over the steps', () => {
    const ds = buildData(spec({ highlight: [5, 9] })).datasets as unknown as DS[];
    const h = ds.find((d) => d.gwRole === 'highlight');
    expect(h?.data.map((p) => p.x)).toEqual([5, 5, 9, 9]);
  });
});

describe('buildOptions', () => {
  const theme = { text: '#000', grid: '#ccc' };
  type Axis = { type?: string; min?: number; max?: number; suggestedMin?: number; suggestedMax?: number };

  it('spans the run unzoomed (suggested, so later points still show) and the zoom when zoomed', () => {
    const x = (over: Partial<ChartSpec>) => (buildOptions(spec(over), theme, true).scales?.x ?? {}) as Axis;
    expect(x({ extent: [0, 207] })).toMatchObject({ suggestedMin: 0, suggestedMax: 207 });
    expect(x({ extent: [0, 207], range: [10, 20] })).toMatchObject({ min: 10, max: 20 });
    expect(x({ extent: [0, 207], range: [10, 20] }).suggestedMax).toBeUndefined();
  });

  it('draws a healthy band on a linear axis only', () => {
    const band = (over: Partial<ChartSpec>) => buildOptions(spec({ band: [-0.3, 0.3], ...over }), theme, true).plugins?.gwBand;
    expect(band({})).toMatchObject({ lo: -0.3, hi: 0.3 });
    expect(band({ logY: true })).toBeNull();
    expect((buildOptions(spec({ logY: true }), theme, true).scales?.y as Axis).type).toBe('logarithmic');
  });
});

describe('labels', () => {
  it('labels 1, 2 and 5 of each decade on log axes', () => {
    expect([1e-4, 2e-4, 3e-4, 5e-3, 0.1, 0.7].map((v) => logTick(v))).toEqual(['1e-4', '2e-4', '', '0.005', '0.1', '']);
    expect([1e304, 5e12, 2e12, 100].map((v) => logTick(v, true))).toEqual(['1e+304', '', '', '100']);
  });

  it('names the kind, count and step of a marker', () => {
    expect(markerText({ x: 0, y: 0.5, kind: 'nan', series: 'loss', fromStep: 7, toStep: 7, count: 1 })).toBe('loss: NaN at step 7');
    expect(markerText({ x: 0, y: 0.9, kind: 'posInf', series: 'g', fromStep: 1, toStep: 9, count: 2 })).toBe('g: +Infinity ×2 in steps 1–9');
  });
});
