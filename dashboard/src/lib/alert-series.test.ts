import type { Alert } from '@gradwatch/shared';
import { describe, expect, it } from 'vitest';
import { alertLayer, alertSeries, alertWindow } from './alert-series';

const alert = (over: Partial<Alert>): Alert => ({
  id: 1, runId: 'r', project: 'p', rule: 'nan.detected', section: 'NaN', severity: 'critical', status: 'open',
  acknowledged: false, muted: false, firstStep: 100, lastStep: 100, evidence: {}, advice: '', createdAt: '', updatedAt: '', ...over,
});
const names = ['loss', 'lr', 'eval/val/loss', 'layer/fc1/update_ratio', 'layer/fc2/update_ratio', 'layer/fc1/act/std', 'layer/fc1/grad/nonFinite'];

describe('alertSeries', () => {
  it('opens a NaN alert on the series it names, then the loss', () => {
    expect(alertSeries(alert({ evidence: { name: 'loss', quantity: 'loss' } }), names)).toEqual(['loss', 'eval/val/loss']);
    expect(alertSeries(alert({ layer: 'fc1', evidence: { quantity: 'grad', layer: 'fc1' } }), names)[1]).toBe('layer/fc1/grad/nonFinite');
  });

  it('opens a ratio alert on its layer, or on every layer', () => {
    expect(alertSeries(alert({ rule: 'lr.update_ratio_high', layer: 'fc2' }), names)[0]).toBe('layer/fc2/update_ratio');
    expect(alertSeries(alert({ rule: 'lr.update_ratio_low' }), names).slice(0, 2)).toEqual(['layer/fc1/update_ratio', 'layer/fc2/update_ratio']);
  });

  it('falls back to the loss, and only names series the run has', () => {
    expect(alertSeries(alert({ rule: 'batch.too_small' }), names)).toEqual(['loss', 'eval/val/loss']);
    expect(alertSeries(alert({ rule: 'act.std_out_of_range', layer: 'fc2' }), names)).toEqual(['loss', 'eval/val/loss']);
  });

  it('names the layer from the alert, else from its evidence', () => {
    expect(alertLayer(alert({ layer: 'fc2', evidence: { layer: 'fc1' } }))).toBe('fc2');
    expect(alertLayer(alert({ evidence: { quantity: 'grad', layer: 'fc1' } }))).toBe('fc1');
    expect(alertLayer(alert({ evidence: { quantity: 'loss', layer: null } }))).toBeNull();
  });

  it('opens a window around the alert with context on both sides', () => {
    expect(alertWindow(alert({ firstStep: 100, lastStep: 100 }), 1000)).toEqual([75, 125]);
    expect(alertWindow(alert({ firstStep: 100, lastStep: 200 }), 250)).toEqual([0, 250]);
  });
});
