import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { decodeStep, layerOrderOf, updateRatioOf } from '../../src/ingest/decode.js';

describe('configuration at boot', () => {
  it('has working defaults', () => {
    const c = loadConfig({}, '/srv');
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8080, dataDir: '/srv/data', adminToken: null, synchronous: 'FULL' });
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ GRADWATCH_PORT: 'eighty' })).toThrow(/GRADWATCH_PORT/);
    expect(() => loadConfig({ GRADWATCH_SYNCHRONOUS: 'OFF' })).toThrow(/GRADWATCH_SYNCHRONOUS/);
    expect(() => loadConfig({ GRADWATCH_ADMIN_TOKEN: 'short' })).toThrow(/at least 16/);
    expect(() => loadConfig({ GRADWATCH_MAX_FRAME_BYTES: '-1' })).toThrow(ConfigError);
  });

  it('refuses a non-loopback address without a token, naming GRADWATCH_ADMIN_TOKEN', () => {
    expect(() => loadConfig({ GRADWATCH_HOST: '0.0.0.0' })).toThrow(/GRADWATCH_ADMIN_TOKEN/);
    expect(loadConfig({ GRADWATCH_HOST: '0.0.0.0', GRADWATCH_ADMIN_TOKEN: 'x'.repeat(16) }).host).toBe('0.0.0.0');
  });
});

describe('derived series', () => {
  const s = (meanAbs: number) => ({ mean: 0, std: 1, meanAbs, min: -1, max: 1 });
  it('update ratio is log10(update/param), -Infinity for a zero update, never NaN', () => {
    expect(updateRatioOf({ param: s(1), update: s(0.001) })).toBeCloseTo(-3);
    expect(updateRatioOf({ param: s(1), update: s(0) })).toBe(-Infinity);
    expect(updateRatioOf({ param: s(1) })).toBeUndefined();
  });

  it('hands steps of one shape the same names array, and a new shape its own', () => {
    const order = layerOrderOf(null);
    const one = decodeStep({ step: 1, scalars: { loss: 1 }, layers: { a: { param: s(1) } } }, order);
    const two = decodeStep({ step: 2, scalars: { loss: 2 }, layers: { a: { param: s(2) } } }, order);
    const other = decodeStep({ step: 3, scalars: { loss: 3, lr: 0.1 }, layers: { a: { param: s(3) } } }, order);
    expect(two.names).toBe(one.names);
    expect(two.values).not.toBe(one.values);
    expect(other.names).not.toBe(one.names);
    expect(other.names).toEqual(['loss', 'lr', ...one.names.slice(1)]);
    expect(decodeStep({ step: 4, scalars: { loss: 4 } }, order).names).toEqual(['loss']);
  });

  it('computes the first/last grad-norm ratio in forward order and skips frozen layers', () => {
    const g = (norm: number) => ({ mean: 0, std: 1, meanAbs: 1, min: -1, max: 1, norm });
    const order = { first: 'a', last: 'c', frozen: new Set(['b']), names: new Map(), lastNames: null };
    const d = decodeStep(
      { step: 3, scalars: { loss: 'NaN' }, layers: { a: { grad: g(0.5), param: s(1), update: s(0.01) }, b: { param: s(1), update: s(0) }, c: { grad: g(0.1) } } },
      order,
    );
    expect(d.view.gradNormRatio).toBeCloseTo(5);
    expect(d.view.updateRatio).toEqual({ a: -2 });
    expect(Number.isNaN(d.view.scalars.loss)).toBe(true);
    expect(d.names).toContain('derived/grad_norm_ratio');
    expect(d.names).not.toContain('layer/b/update_ratio');
  });
});
