import type { Alert, Diagnosis, DiagnosisSymptom } from '@gradwatch/shared';
import { alertSeries } from './alert-series';

/** Warning and critical diagnoses are the verdict; info ones are hints a healthy run may carry. */
export const isVerdict = (d: Diagnosis): boolean => d.severity === 'warning' || d.severity === 'critical';

export function splitDiagnoses(ds: readonly Diagnosis[]): { verdict: Diagnosis[]; hints: Diagnosis[] } {
  const byRank = [...ds].sort((a, b) => a.rank - b.rank);
  return { verdict: byRank.filter(isVerdict), hints: byRank.filter((d) => !isVerdict(d)) };
}

/** What the runs list shows for a run: the best-ranked verdict, or null (as RunSummary.diagnosis). */
export function topVerdict(ds: readonly Diagnosis[]): Diagnosis | null {
  return splitDiagnoses(ds).verdict[0] ?? null;
}

export const fmtConfidence = (c: number): string => `${Math.round(Math.max(0, Math.min(1, c)) * 100)}%`;

/**
 * The steps a chart of the onset shows: `pad` steps either side of the first step, where pad is
 * a tenth of the run (at least 25). A window cut short by the run's start or end gives the
 * steps it lost to the other side, so an onset at step 3 still shows a useful stretch after it.
 */
export function onsetWindow(firstStep: number, runLastStep: number | null): [number, number] {
  const last = Math.max(runLastStep ?? firstStep, firstStep);
  const pad = Math.max(25, Math.round(last / 10));
  let lo = firstStep - pad;
  let hi = firstStep + pad;
  if (lo < 0) {
    hi = Math.min(last, hi - lo);
    lo = 0;
  } else if (hi > last) {
    lo = Math.max(0, lo - (hi - last));
    hi = last;
  }
  // A window of one step would be a hairline: keep at least two.
  return [lo, Math.max(hi, lo + 1)];
}

/** A symptom's own series; the loss, which every rule falls back to, only when it has none. */
function seriesOf(s: DiagnosisSymptom, available: readonly string[]): string[] {
  const all = alertSeries({ rule: s.rule, evidence: {}, layer: s.layers?.[0] }, available);
  const own = all.filter((n) => n !== 'loss' && n !== 'eval/val/loss');
  return (own.length ? own : all).slice(0, 6);
}

/**
 * What the onset chart draws: the series of the symptom the user picked; else the loss (and the
 * eval loss), where a fault usually shows first; else the series of the earliest symptom.
 */
export function onsetSeries(d: Diagnosis, charted: string | null, available: readonly string[]): string[] {
  const picked = charted === null ? undefined : d.symptoms.find((s) => s.rule === charted);
  if (picked) return seriesOf(picked, available);
  const loss = ['loss', 'eval/val/loss'].filter((n) => available.includes(n));
  if (loss.length) return loss;
  const first = [...d.symptoms].sort((a, b) => a.firstStep - b.firstStep)[0];
  return first ? seriesOf(first, available) : [];
}

/** The alert a symptom stands for: the same rule, the episode starting on its step if there is one, else the newest. */
export function symptomAlert(s: DiagnosisSymptom, alerts: readonly Alert[]): Alert | null {
  const same = alerts.filter((a) => a.rule === s.rule);
  return same.find((a) => a.firstStep === s.firstStep) ?? same.reduce<Alert | null>((best, a) => (best && best.id > a.id ? best : a), null);
}

export interface AlertGroup {
  /** The diagnosis these alerts are symptoms of; null for alerts no diagnosis explains. */
  diagnosis: Diagnosis | null;
  alerts: Alert[];
}

export interface RunAlertGroup {
  runId: string;
  /** The run's name, or null while it is not known yet (shown as the id). */
  name: string | null;
  groups: AlertGroup[];
}

/**
 * Alerts by run, then by the diagnosis that explains them. A diagnosis lists one symptom per
 * rule of its run, so every alert (every episode) of that rule is its symptom; a rule listed by
 * two diagnoses goes to the better ranked. Runs keep the order of their first alert in the list
 * (newest first as the server pages them); diagnoses keep their rank; the unexplained come last.
 */
export function groupAlerts(
  alerts: readonly Alert[],
  runs: ReadonlyMap<string, { name: string | null; diagnoses: readonly Diagnosis[] }>,
): RunAlertGroup[] {
  const byRun = new Map<string, Alert[]>();
  for (const a of alerts) {
    const list = byRun.get(a.runId);
    if (list) list.push(a);
    else byRun.set(a.runId, [a]);
  }
  return [...byRun].map(([runId, list]) => {
    const info = runs.get(runId);
    const ranked = [...(info?.diagnoses ?? [])].sort((a, b) => a.rank - b.rank);
    const owner = new Map<string, Diagnosis>();
    for (const d of ranked) for (const s of d.symptoms) if (!owner.has(s.rule)) owner.set(s.rule, d);
    const groups = new Map<Diagnosis | null, Alert[]>();
    for (const d of ranked) groups.set(d, []);
    groups.set(null, []);
    for (const a of list) groups.get(owner.get(a.rule) ?? null)?.push(a);
    return {
      runId,
      name: info?.name ?? null,
      groups: [...groups].filter(([, as]) => as.length > 0).map(([diagnosis, as]) => ({ diagnosis, alerts: as })),
    };
  });
}
