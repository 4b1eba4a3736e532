import type { SeriesInfo } from '@gradwatch/shared';
import { describe, expect, it } from 'vitest';
import { configDiff, layerOrder, overviewSeries } from './run-layout';

const info = (names: string[]): SeriesInfo[] => names.map((name) => ({ name, count: 1, firstStep: 0, lastStep: 0, firstNonFiniteStep: null }));

describe('run layout', () => {
  it('keeps the model\'s forward order, then layers only seen in series', () => {
    const model = { layers: [{ name: 'b', kind: 'Linear', params: 1 }, { name: 'a', kind: 'Linear', params: 1 }] };
    expect(layerOrder({ model }, info(['layer/a/act/std', 'layer/enc/blocks.0/attn/act/std', 'layer/b/update_ratio']))).toEqual(['b', 'a', 'enc/blocks.0/attn']);
  });

  it('sorts series into the overview charts, leaving frozen layers out of the ratio chart', () => {
    const model = { layers: [{ name: 'emb', kind: 'Embedding', params: 1, trainable: false }, { name: 'fc', kind: 'Linear', params: 1 }] };
    const o = overviewSeries({ model }, info(['loss', 'acc', 'lr', 'sys/gpu_mem', 'eval/val/loss', 'eval/val/acc', 'eval/val/inputs/mean']));
    expect(o.loss).toEqual(['loss', 'eval/val/loss']);
    expect(o.metrics).toEqual(['acc', 'eval/val/acc']);
    expect(o.sys).toEqual(['sys/gpu_mem']);
    expect(o.ratios).toEqual(['layer/fc/update_ratio']);
    expect(o.std('grad')).toEqual(['layer/emb/grad/std', 'layer/fc/grad/std']);
  });

  it('lists the config keys whose values differ', () => {
    const cfgs = [{ lr: 0.1, bs: 64, opt: { m: 0.9 } }, { lr: 1e-3, bs: 64, opt: { m: 0.9 } }, { lr: 1e-6, bs: 64 }];
    expect(configDiff(cfgs)).toEqual(['lr', 'opt']);
    expect(configDiff(cfgs, true)).toEqual(['bs', 'lr', 'opt']);
  });
});
