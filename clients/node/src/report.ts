import type { EndStatus } from '@gradwatch/shared';
import { errorAction, type ErrorAction } from '@gradwatch/shared/wire';
import type { Entry } from './outbox.js';

/** An error the server sent that ends the client (or its connect): retrying cannot help. */
export class GradwatchError extends Error {
  readonly action: ErrorAction;
  constructor(readonly code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = 'GradwatchError';
    this.action = errorAction(code);
  }
}

/** A message the server refused for its content (or the client could not send): never stored. */
export interface Rejected {
  /** Absent when the client dropped the message before numbering it (over the frame limit). */
  seq?: number;
  code: string;
  message: string;
  type?: Entry['type'];
  /** Step items lost with it. */
  steps: number;
}

/** What `end()` resolves with. */
export interface EndReport {
  status: EndStatus;
  /** Messages the server stored (acked). */
  acked: number;
  /** Messages refused: nothing of them is stored. */
  rejected: number;
  /** Step items in the refused messages. */
  rejectedSteps: number;
  /** Refused messages by error code. */
  rejectedByCode: Record<string, number>;
}

export type Log = (line: string) => void;
export const stderrLog: Log = (line) => console.warn(`gradwatch: ${line}`);

/** `a steps message (seq 4; 10 steps, 50–59)`: what a refusal cost, in a user's terms. */
function describe(entry?: Entry, seq?: number): string {
  if (!entry) return 'a message';
  const parts: string[] = [];
  if (seq !== undefined) parts.push(`seq ${seq}`);
  if (entry.steps === 1) parts.push(`step ${entry.firstStep}`);
  else if (entry.steps > 1) parts.push(`${entry.steps} steps, ${entry.firstStep}–${entry.lastStep}`);
  return `a ${entry.type} message${parts.length ? ` (${parts.join('; ')})` : ''}`;
}

/**
 * Refusals, counted and reported: one clear line the first time a code is seen (a refused batch
 * is data lost; it must be visible without flooding a training log), and the totals at the end.
 */
export class Refusals {
  readonly list: Rejected[] = [];
  private readonly logged = new Set<string>();
  constructor(private readonly runId: string, private readonly log: Log) {}

  add(code: string, message: string, entry?: Entry, seq?: number): Rejected {
    const r: Rejected = { code, message, steps: entry?.steps ?? 0, ...(seq !== undefined ? { seq } : {}), ...(entry ? { type: entry.type } : {}) };
    this.list.push(r);
    if (!this.logged.has(code)) {
      this.logged.add(code);
      // Without a seq, a queued message was dropped here: no server could take it.
      const what = entry && seq === undefined ? `${describe(entry)} was not sent` : `the server refused ${describe(entry, seq)}`;
      this.log(`run ${this.runId}: ${what}: ${code}: ${message}. Nothing of it is stored; `
        + `later refusals with this code are only counted (end() reports them).`);
    }
    return r;
  }

  report(status: EndStatus, acked: number): EndReport {
    const byCode: Record<string, number> = {};
    for (const r of this.list) byCode[r.code] = (byCode[r.code] ?? 0) + 1;
    const rejectedSteps = this.list.reduce((n, r) => n + r.steps, 0);
    if (this.list.length > 0) {
      const codes = Object.entries(byCode).map(([c, n]) => `${c} ×${n}`).join(', ');
      this.log(`run ${this.runId} ended ${status}: ${this.list.length} message(s) refused (${codes}), ${rejectedSteps} step(s) not stored.`);
    }
    return { status, acked, rejected: this.list.length, rejectedSteps, rejectedByCode: byCode };
  }
}
