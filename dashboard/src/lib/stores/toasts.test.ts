import type { Alert } from '@gradwatch/shared';
import { describe, expect, it } from 'vitest';
import { Toasts } from './toasts.svelte';

const a = (id: number, over: Partial<Alert> = {}): Alert => ({
  id, runId: 'r', project: 'p', rule: 'nan.detected', section: '', severity: 'critical', status: 'open', acknowledged: false,
  muted: false, firstStep: 1, lastStep: 1, evidence: {}, advice: '', createdAt: '', updatedAt: '', ...over,
});

describe('Toasts', () => {
  it('toasts an alert when it opens or changes severity, not on resolve, mute or repeat', () => {
    const t = new Toasts(3, 60_000);
    t.onAlert(a(1, { severity: 'warning' }));
    t.onAlert(a(1, { severity: 'warning', lastStep: 5 }));
    t.onAlert(a(1, { severity: 'critical' }));
    t.onAlert(a(2, { muted: true }));
    t.onAlert(a(3, { status: 'resolved' }));
    expect(t.items.map((x) => [x.alert.id, x.alert.severity])).toEqual([[1, 'critical']]);
  });

  it('keeps only the newest few', () => {
    const t = new Toasts(2, 60_000);
    for (let i = 1; i <= 5; i++) t.onAlert(a(i));
    expect(t.items.map((x) => x.alert.id)).toEqual([5, 4]);
    t.dismiss(t.items[0]?.key ?? 0);
    expect(t.items.map((x) => x.alert.id)).toEqual([4]);
  });
});
