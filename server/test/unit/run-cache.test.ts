import { describe, expect, it } from 'vitest';
import { RunCache } from '../../src/points/run-cache.js';

describe('RunCache', () => {
  it('loads a run once, and lets the least recently written go beyond its size', () => {
    const loads: number[] = [];
    const c = new RunCache<{ id: number }>(2);
    const get = (id: number) => c.get(id, () => (loads.push(id), { id }));
    const a = get(1);
    get(2);
    expect(get(1)).toBe(a);
    get(3); // 2 is the least recently used now
    expect(c.peek(2)).toBeUndefined();
    expect(c.peek(1)).toBe(a);
    get(2);
    expect(loads).toEqual([1, 2, 3, 2]);
    c.delete(3);
    expect(c.peek(3)).toBeUndefined();
  });
});
