import type { Alert, Diagnosis, DiagnosisSymptom } from '@gradwatch/shared';
import { describe, expect, it } from 'vitest';
import { fmtConfidence, groupAlerts, onsetSeries, onsetWindow, splitDiagnoses, symptomAlert, topVerdict } from './diagnosis';

let nextId = 1;
const alert = (over: Partial<Alert>): Alert => ({
  id: nextId++, runId: 'r1', project: 'p', rule: 'nan.detected', section: 'NaN', severity: 'critical', status: 'open',
  acknowledged: false, muted: false, firstStep: 10, lastStep: 10, evidence: {}, advice: '', createdAt: '', updatedAt: '', ...over,
});
const sym = (rule: string, over: Partial<DiagnosisSymptom> = {}): DiagnosisSymptom => ({
  rule, severity: 'warning', firstStep: 10, lastStep: 20, open: true, ...over,
});
const dx = (cause: string, over: Partial<Diagnosis> = {}): Diagnosis => ({
  cause, title: cause, rank: 1, severity: 'critical', confidence: 0.9, active: true, firstStep: 10, lastStep: 20,
  symptoms: [], explains: [], evidence: '', advice: '', ...over,
});

describe('splitDiagnoses and topVerdict', () => {
  it('keeps warning and critical diagnoses as the verdict, by rank, and info ones as hints', () => {
    const ds = [dx('b', { rank: 3, severity: 'warning' }), dx('hint', { rank: 2, severity: 'info' }), dx('a', { rank: 1 })];
    const { verdict, hints } = splitDiagnoses(ds);
    expect(verdict.map((d) => d.cause)).toEqual(['a', 'b']);
    expect(hints.map((d) => d.cause)).toEqual(['hint']);
    expect(topVerdict(ds)?.cause).toBe('a');
    expect(topVerdict([dx('hint', { severity: 'info' })])).toBeNull();
  });

  it('writes confidence as a whole percentage, clamped', () => {
    expect(fmtConfidence(0.876)).toBe('88%');
    expect(fmtConfidence(1.2)).toBe('100%');
  });
});

describe('onsetWindow', () => {
  it('centres on the onset with a tenth of the run (at least 25 steps) each side', () => {
    expect(onsetWindow(500, 1000)).toEqual([400, 600]);
    expect(onsetWindow(100, 200)).toEqual([75, 125]);
  });

  it('gives the steps cut off at the start or the end to the other side', () => {
    expect(onsetWindow(3, 200)).toEqual([0, 50]);
    expect(onsetWindow(990, 1000)).toEqual([800, 1000]);
  });

  it('fits a run shorter than the window, and never collapses to one step', () => {
    expect(onsetWindow(9, 20)).toEqual([0, 20]);
    expect(onsetWindow(0, 0)).toEqual([0, 1]);
    // A run with no last step yet, or an onset past it (a live point not yet counted).
    expect(onsetWindow(40, null)).toEqual([0, 40]);
  });
});

describe('onsetSeries', () => {
  const names = ['loss', 'eval/val/loss', 'lr', 'layer/fc1/update_ratio', 'layer/fc2/update_ratio', 'layer/fc1/act/fracDeadUnits'];
  const d = dx('lr_too_high', { symptoms: [sym('act.dead_units', { layers: ['fc1'], firstStep: 30 }), sym('lr.update_ratio_high', { layers: ['fc2'], firstStep: 5 })] });

  it('charts the loss by default', () => {
    expect(onsetSeries(d, null, names)).toEqual(['loss', 'eval/val/loss']);
  });

  it('charts a picked symptom on its own series, without the loss', () => {
    expect(onsetSeries(d, 'act.dead_units', names)).toEqual(['layer/fc1/act/fracDeadUnits']);
    expect(onsetSeries(d, 'lr.update_ratio_high', names)).toEqual(['layer/fc2/update_ratio']);
  });

  it('without a loss, charts the earliest symptom', () => {
    expect(onsetSeries(d, null, names.filter((n) => !n.includes('loss')))).toEqual(['layer/fc2/update_ratio']);
  });
});

describe('symptomAlert', () => {
  it('links a symptom to its alert: the episode starting on its step, else the newest of its rule', () => {
    const first = alert({ rule: 'lr.loss_diverging', firstStep: 10 });
    const later = alert({ rule: 'lr.loss_diverging', firstStep: 80 });
    expect(symptomAlert(sym('lr.loss_diverging', { firstStep: 10 }), [later, first])?.id).toBe(first.id);
    expect(symptomAlert(sym('lr.loss_diverging', { firstStep: 11 }), [first, later])?.id).toBe(later.id);
    expect(symptomAlert(sym('nan.detected'), [first, later])).toBeNull();
  });
});

describe('groupAlerts', () => {
  it('groups by run in list order, then by diagnosis rank, the unexplained last', () => {
    const a1 = alert({ runId: 'r2', rule: 'batch.too_small', severity: 'info' });
    const a2 = alert({ runId: 'r1', rule: 'nan.detected' });
    const a3 = alert({ runId: 'r1', rule: 'init.scale' });
    const a4 = alert({ runId: 'r1', rule: 'lr.update_ratio_high' });
    const a5 = alert({ runId: 'r1', rule: 'lr.update_ratio_high', firstStep: 90 });
    const runs = new Map([
      ['r1', {
        name: 'lr sweep 0.5',
        diagnoses: [
          // Listed out of rank order: the grouping sorts them.
          dx('bad_init', { rank: 2, severity: 'warning', symptoms: [sym('init.scale'), sym('nan.detected')] }),
          dx('lr_too_high', { rank: 1, symptoms: [sym('lr.update_ratio_high'), sym('nan.detected')] }),
        ],
      }],
    ]);
    const g = groupAlerts([a1, a2, a3, a4, a5], runs);
    expect(g.map((r) => [r.runId, r.name])).toEqual([['r2', null], ['r1', 'lr sweep 0.5']]);
    // r2's diagnoses are not known yet: its alerts are all unexplained.
    expect(g[0]?.groups.map((x) => [x.diagnosis?.cause ?? null, x.alerts.map((a) => a.id)])).toEqual([[null, [a1.id]]]);
    // nan.detected is listed by both: it goes to the better ranked, and every episode of a rule goes together.
    expect(g[1]?.groups.map((x) => [x.diagnosis?.cause ?? null, x.alerts.map((a) => a.id)])).toEqual([
      ['lr_too_high', [a2.id, a4.id, a5.id]],
      ['bad_init', [a3.id]],
    ]);
  });

  it('drops diagnoses with no alert on the page and puts alerts no diagnosis names last', () => {
    const a = alert({ rule: 'weights.unchanged' });
    const g = groupAlerts([a], new Map([['r1', { name: 'x', diagnoses: [dx('lr_too_high', { symptoms: [sym('nan.detected')] })] }]]));
    expect(g[0]?.groups).toEqual([{ diagnosis: null, alerts: [a] }]);
    expect(groupAlerts([], new Map())).toEqual([]);
  });
});
