import { describe, expect, it } from 'vitest';
import { Turns } from './turns';

/** A scheduler the test runs by hand: one call of step() is one task. */
function manual() {
  const tasks: Array<() => void> = [];
  return { schedule: (run: () => void) => void tasks.push(run), step: () => tasks.shift()?.(), pending: () => tasks.length };
}

describe('Turns', () => {
  it('runs one job per task, in the order they came', () => {
    const m = manual();
    const t = new Turns(m.schedule);
    const ran: number[] = [];
    for (const i of [1, 2, 3]) t.add(() => ran.push(i));
    expect(ran).toEqual([]);
    m.step();
    expect(ran).toEqual([1]);
    m.step();
    m.step();
    expect(ran).toEqual([1, 2, 3]);
    expect(m.pending()).toBe(0);
  });

  it('drops a job taken out before its turn, and keeps the others going', () => {
    const m = manual();
    const t = new Turns(m.schedule);
    const ran: string[] = [];
    t.add(() => ran.push('a'));
    const cancel = t.add(() => ran.push('b'));
    t.add(() => ran.push('c'));
    cancel();
    while (m.pending()) m.step();
    expect(ran).toEqual(['a', 'c']);
  });

  it('takes jobs added while it runs', () => {
    const m = manual();
    const t = new Turns(m.schedule);
    const ran: string[] = [];
    t.add(() => {
      ran.push('a');
      t.add(() => ran.push('b'));
    });
    while (m.pending()) m.step();
    expect(ran).toEqual(['a', 'b']);
  });
});
