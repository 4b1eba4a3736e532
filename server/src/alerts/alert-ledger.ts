import { toWireJson, type Alert } from '@gradwatch/shared';
import type { AlertChange } from '../rules/types.js';
import { toAlert } from './alert-dto.js';
import { changesOf } from './alert-history.js';
import type { AlertRow, AlertsRepo } from './alerts.repo.js';

export interface RunRef {
  id: number;
  uid: string;
  projectId: number;
  project: string;
}

interface OpenAlert {
  row: AlertRow;
  /** Progress not yet written: updates collapse to one write per alert per transaction. */
  dirty: boolean;
}

const key = (rule: string, layer: string | null): string => `${rule}\u0000${layer ?? ''}`;
const encodeEvidence = (e: Record<string, unknown>): string => toWireJson(e);
const layersJson = (c: AlertChange): string | null => (c.layers?.length ? JSON.stringify(c.layers) : null);

/**
 * Applies the engine's transitions: one open alert per (run, rule, layer). Open alerts of the
 * runs being ingested are kept in memory so a rule that keeps firing costs no query per step.
 * Returns the alerts worth announcing (opened, severity changed, resolved).
 */
export class AlertLedger {
  private readonly open = new Map<number, Map<string, OpenAlert>>();

  /** announce: where announced alerts go besides the caller, inside the same transaction (webhooks). */
  constructor(
    private readonly repo: AlertsRepo,
    private readonly announce: (projectId: number, alert: Alert) => Promise<void> = async () => undefined,
  ) {}

  private async openOf(runId: number): Promise<Map<string, OpenAlert>> {
    let m = this.open.get(runId);
    if (!m) {
      m = new Map((await this.repo.openOfRun(runId)).map((row) => [key(row.rule, row.layer), { row, dirty: false }]));
      this.open.set(runId, m);
    }
    return m;
  }

  async apply(run: RunRef, changes: AlertChange[], now: string): Promise<Alert[]> {
    const announced = await this.transition(run, changes, now);
    for (const a of announced) await this.announce(run.projectId, a);
    return announced;
  }

  private async transition(run: RunRef, changes: AlertChange[], now: string): Promise<Alert[]> {
    const announce: Alert[] = [];
    const open = changes.length ? await this.openOf(run.id) : undefined;
    for (const c of changes) {
      if (!open) break;
      const layer = c.layer ?? null;
      const k = key(c.rule, layer);
      const cur = open.get(k);
      if (c.action === 'resolve') {
        if (!cur) continue;
        open.delete(k);
        const row = await this.resolve(cur, c.lastStep ?? c.step, c.reason, now);
        if (row) announce.push(toAlert(row, run.uid, run.project));
        continue;
      }
      if (cur) {
        const severityChanged = cur.row.severity !== c.severity;
        Object.assign(cur.row, { severity: c.severity, lastStep: Math.max(cur.row.lastStep, c.step), advice: c.advice, updatedAt: now, layers: layersJson(c) ?? cur.row.layers });
        cur.row.evidence = encodeEvidence(c.evidence);
        cur.dirty = true;
        if (severityChanged) {
          await this.writeProgress(cur, now);
          announce.push(toAlert(cur.row, run.uid, run.project));
        }
        continue;
      }
      if (c.action === 'update') continue;
      const row = await this.repo.insert({
        runId: run.id,
        projectId: run.projectId,
        rule: c.rule,
        section: c.section,
        severity: c.severity,
        status: 'open',
        layer,
        layers: layersJson(c),
        firstStep: c.firstStep,
        lastStep: c.step,
        evidence: encodeEvidence(c.evidence),
        advice: c.advice,
        createdAt: now,
        updatedAt: now,
      });
      open.set(k, { row, dirty: false });
      announce.push(toAlert(row, run.uid, run.project));
    }
    return announce;
  }

  private async writeProgress(a: OpenAlert, now: string): Promise<void> {
    if (!a.dirty) return;
    a.dirty = false;
    await this.repo.progress(a.row.id, a.row.severity, a.row.lastStep, a.row.evidence, a.row.advice, a.row.layers, now);
  }

  /** Writes collapsed progress; call inside the transaction that produced it. */
  async flush(now: string): Promise<void> {
    for (const m of this.open.values()) for (const a of m.values()) await this.writeProgress(a, now);
  }

  /** Acknowledges or mutes an alert; the cached copy follows so a later flush keeps the marks. */
  async mark(id: number, runId: number, marks: { acknowledged?: boolean; muted?: boolean }, now: string): Promise<AlertRow | undefined> {
    const row = await this.repo.update(id, { ...marks, updatedAt: now });
    for (const a of this.open.get(runId)?.values() ?? []) if (a.row.id === id && row) a.row = row;
    return row;
  }

  private async resolve(a: OpenAlert, lastStep: number, reason: string | undefined, now: string): Promise<AlertRow | undefined> {
    await this.writeProgress(a, now);
    return this.repo.update(a.row.id, {
      status: 'resolved', resolvedAt: now, updatedAt: now, lastStep: Math.max(a.row.lastStep, lastStep),
      ...(reason !== undefined ? { resolvedReason: reason } : {}),
    });
  }

  /**
   * Resolves every alert of the run still open, with `reason`: after its end, those its engine
   * did not hold (restored after they opened, it takes up only each enabled rule's oldest).
   * Returns what to announce, and the resolves as changes, for the engine's verdict to hear.
   */
  async resolveOpen(run: RunRef, reason: string, now: string): Promise<{ announced: Alert[]; changes: AlertChange[] }> {
    const open = await this.openOf(run.id);
    const announced: Alert[] = [];
    const changes: AlertChange[] = [];
    for (const [k, a] of open) {
      open.delete(k);
      const row = await this.resolve(a, a.row.lastStep, reason, now);
      if (!row) continue;
      announced.push(toAlert(row, run.uid, run.project));
      changes.push(...changesOf(row).filter((c) => c.action === 'resolve'));
    }
    for (const a of announced) await this.announce(run.projectId, a);
    return { announced, changes };
  }

  /** Writes one run's collapsed progress (a hello's, which no batch of its follows yet); inside a transaction. */
  async flushRun(runId: number, now: string): Promise<void> {
    for (const a of this.open.get(runId)?.values() ?? []) await this.writeProgress(a, now);
  }

  /** Whether the run has progress not written yet (a flush inside a transaction writes it). */
  dirty(runId: number): boolean {
    for (const a of this.open.get(runId)?.values() ?? []) if (a.dirty) return true;
    return false;
  }

  /** Drops cached state: after a rolled-back transaction, a deleted run, or acknowledge/mute. */
  forget(runId?: number): void {
    if (runId === undefined) this.open.clear();
    else this.open.delete(runId);
  }
}
