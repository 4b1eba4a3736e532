import { describe, expect, it } from 'vitest';
import { decodeNum, encodeNum } from './numbers.js';
import { layerSeries, parseSeries, updateRatioSeries } from './wire/series.js';

describe('non-finite numbers on the wire', () => {
  it('round-trips NaN and both infinities through their markers', () => {
    for (const v of [0, -0.5, 1e300, Number.NaN, Infinity, -Infinity]) {
      const back = decodeNum(encodeNum(v));
      expect(Object.is(back, v) || (Number.isNaN(v) && Number.isNaN(back))).toBe(true);
    }
    expect(JSON.stringify([NaN, Infinity, -Infinity].map(encodeNum))).toBe('["NaN","Infinity","-Infinity"]');
  });
});

describe('series names', () => {
  it('parses layer names that contain slashes and dots', () => {
    expect(parseSeries(layerSeries('encoder/block.0', 'grad', 'norm'))).toEqual({ kind: 'layer', layer: 'encoder/block.0', of: 'grad', stat: 'norm' });
    expect(parseSeries(updateRatioSeries('fc.1'))).toEqual({ kind: 'layer', layer: 'fc.1', stat: 'update_ratio' });
    expect(parseSeries('sys/gpu_mem')).toEqual({ kind: 'scalar', stat: 'sys/gpu_mem' });
    expect(parseSeries('inputs/std')).toEqual({ kind: 'inputs', stat: 'std' });
    expect(parseSeries('eval/val/loss').kind).toBe('eval');
  });
});

describe('error codes', () => {
  it('docs/protocol.md lists every code with the action the shared table gives it', async () => {
    const { readFileSync } = await import('node:fs');
    const { ERROR_ACTIONS } = await import('./wire/errors.js');
    const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\s*\| `([a-z_]+)` \| (rejected|retry|resend|reconnect|fatal) \|/gm)];
    expect(Object.fromEntries(rows.map((m) => [m[1], m[2]]))).toEqual(ERROR_ACTIONS);
  });
});
