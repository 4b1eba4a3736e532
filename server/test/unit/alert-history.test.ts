import { describe, expect, it } from 'vitest';
import { alertHistory, changesOf, peaksOf, withPeaks } from '../../src/alerts/alert-history.js';
import type { AlertRow } from '../../src/alerts/alerts.repo.js';

const row = (over: Partial<AlertRow>): AlertRow => ({
  id: 1, runId: 1, projectId: 1, rule: 'grad.exploding', section: 'gradients', severity: 'critical', status: 'open',
  layer: 'fc1', layers: '["fc1","fc2"]', firstStep: 10, lastStep: 25, evidence: '{"norm":"Infinity","ratio":3.5}', advice: 'clip',
  acknowledged: false, muted: false, createdAt: 't', updatedAt: 't', resolvedAt: null, resolvedReason: null, ...over,
} as AlertRow);

describe('changesOf', () => {
  it('an open alert is its open, evidence with its numbers back', () => {
    expect(changesOf(row({}))).toEqual([{
      action: 'open', rule: 'grad.exploding', section: 'gradients', severity: 'critical', step: 10, firstStep: 10, lastStep: 25,
      evidence: { norm: Infinity, ratio: 3.5 }, advice: 'clip', layer: 'fc1', layers: ['fc1', 'fc2'],
    }]);
  });

  it('a resolved one is its open then its resolve, with the reason; a run-level one has no layer', () => {
    const [open, resolve] = changesOf(row({ status: 'resolved', resolvedReason: 'ended with the run', layer: null, layers: null }));
    expect(open).not.toHaveProperty('layer');
    expect(open).not.toHaveProperty('layers');
    expect(resolve).toMatchObject({ action: 'resolve', step: 25, lastStep: 25, reason: 'ended with the run' });
  });
});

describe('alertHistory', () => {
  it('lists every change oldest first, and the opens of the alerts still open', async () => {
    const rows = [row({ id: 3, rule: 'b' }), row({ id: 1, status: 'resolved' }), row({ id: 2, rule: 'a', layer: null, layers: null })];
    const h = await alertHistory({ list: async () => rows.map((r) => ({ ...r, runUid: 'r', project: 'p' })) }, 'r');
    expect(h.changes.map((c) => [c.rule, c.action])).toEqual([
      ['grad.exploding', 'open'], ['grad.exploding', 'resolve'], ['a', 'open'], ['b', 'open'],
    ]);
    expect(h.open.map((c) => c.rule)).toEqual(['a', 'b']);
  });
});

describe('peaksOf and withPeaks', () => {
  const verdict = JSON.stringify([
    { symptoms: [{ rule: 'grad.exploding', severity: 'warning' }, { rule: 'a', severity: 'info' }] },
    { symptoms: [{ rule: 'grad.exploding', severity: 'critical' }] },
  ]);

  it("reads each rule's worst severity from a stored verdict, nothing from a bad one", () => {
    expect(peaksOf(verdict)).toEqual(new Map([['grad.exploding', 'critical'], ['a', 'info']]));
    expect(peaksOf('not json')).toEqual(new Map());
    expect(peaksOf('{"x":1}')).toEqual(new Map());
  });

  it("raises a rule's first change to its peak, in a copy; never lowers one", () => {
    const changes = changesOf(row({ severity: 'warning', status: 'resolved' }));
    const raised = withPeaks(changes, peaksOf(verdict));
    expect(raised.map((c) => c.severity)).toEqual(['critical', 'warning']);
    expect(changes[0]?.severity).toBe('warning');
    expect(withPeaks(changes, new Map([['grad.exploding', 'info']]))[0]).toBe(changes[0]);
  });
});
