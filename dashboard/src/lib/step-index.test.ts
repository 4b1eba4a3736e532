import { describe, expect, it } from 'vitest';
import { StepIndex } from './step-index';

describe('StepIndex', () => {
  const idx = new StepIndex();
  idx.add([[0, 1000, 0], [100, 1010, 0], [200, 1020, 1], [300, 1040, 1]]);

  it('interpolates time between indexed steps and inverts it', () => {
    expect(idx.x(50, 'time')).toBe(1_005_000);
    expect(idx.step(1_005_000, 'time')).toBe(50);
  });

  it('spreads the steps of an epoch over it', () => {
    expect(idx.x(0, 'epoch')).toBe(0);
    expect(idx.x(100, 'epoch')).toBe(0.5);
    expect(idx.x(300, 'epoch')).toBe(1.5);
  });

  it('ignores steps it already has, and reports steps per second', () => {
    idx.add([[300, 5000, 9]]);
    expect(idx.size).toBe(4);
    expect(idx.rates(1)).toEqual([[100, 10], [200, 10], [300, 5]]);
  });
});
