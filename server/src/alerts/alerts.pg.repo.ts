import type { PgDb } from '../storage/pg.js';
import { and, definedKeys, rowKeys, type Fragment } from '../storage/pg-sql.js';
import { alerts } from '../storage/schema.js';
import type { AlertFilter, AlertRow, AlertsRepo } from './alerts.repo.js';

type AlertWithRun = AlertRow & { runUid: string; project: string };

const COLS = rowKeys(alerts);
const A_COLS = rowKeys(alerts, 'a');

/**
 * Alerts on PostgreSQL: the same queries as SqliteAlertsRepo. Times are ISO text, compared with
 * COLLATE "C" (byte order, as SQLite's BINARY).
 */
export class PgAlertsRepo implements AlertsRepo {
  constructor(private readonly db: PgDb) {}

  /** In id order: SQLite gives no order either, callers key the rows by rule and layer. */
  async openOfRun(runId: number): Promise<AlertRow[]> {
    const q = this.db.q();
    return q<AlertRow[]>`SELECT ${q(COLS)} FROM alerts WHERE run_id = ${runId} AND status = 'open' ORDER BY id`;
  }

  async progress(id: number, severity: string, lastStep: number, evidence: string, advice: string, layers: string | null, updatedAt: string): Promise<void> {
    const q = this.db.q();
    await this.db.later(q`UPDATE alerts SET severity = ${severity}, last_step = ${lastStep}, evidence = ${evidence}, advice = ${advice}, layers = ${layers}, updated_at = ${updatedAt} WHERE id = ${id}`);
  }

  async insert(values: typeof alerts.$inferInsert): Promise<AlertRow> {
    const q = this.db.q();
    const [row] = await q<AlertRow[]>`INSERT INTO alerts ${q(values, ...definedKeys(values))} RETURNING ${q(COLS)}`;
    if (!row) throw new Error('INSERT INTO alerts returned no row');
    return row;
  }

  async update(id: number, values: Partial<typeof alerts.$inferInsert>): Promise<AlertRow | undefined> {
    const keys = definedKeys(values);
    const q = this.db.q();
    if (keys.length === 0) {
      const [row] = await q<AlertRow[]>`SELECT ${q(COLS)} FROM alerts WHERE id = ${id}`;
      return row;
    }
    const [row] = await q<AlertRow[]>`UPDATE alerts SET ${q(values, ...keys)} WHERE id = ${id} RETURNING ${q(COLS)}`;
    return row;
  }

  async byId(id: number): Promise<AlertWithRun | undefined> {
    const [row] = await this.select([this.db.q()`a.id = ${id}`], 1);
    return row;
  }

  async list(f: AlertFilter): Promise<AlertWithRun[]> {
    const q = this.db.q();
    const conds: Fragment[] = [];
    if (f.project !== undefined) conds.push(q`p.name = ${f.project}`);
    if (f.runUid !== undefined) conds.push(q`r.uid = ${f.runUid}`);
    if (f.rule !== undefined) conds.push(q`a.rule = ${f.rule}`);
    if (f.severity?.length) conds.push(q`a.severity IN ${q(f.severity)}`);
    if (f.status !== undefined) conds.push(q`a.status = ${f.status}`);
    if (f.layer !== undefined) conds.push(q`a.layer = ${f.layer}`);
    if (f.since !== undefined) conds.push(q`a.updated_at COLLATE "C" >= ${f.since}`);
    if (f.until !== undefined) conds.push(q`a.created_at COLLATE "C" <= ${f.until}`);
    if (f.beforeId !== undefined) conds.push(q`a.id < ${f.beforeId}`);
    return this.select(conds, f.limit);
  }

  /** Open, unmuted alerts per run and severity, ordered as SQLite's GROUP BY returns them. */
  async openCounts(runIds: number[]): Promise<Array<{ runId: number; severity: string; n: number }>> {
    if (runIds.length === 0) return [];
    const q = this.db.q();
    return q<Array<{ runId: number; severity: string; n: number }>>`
      SELECT run_id, severity, count(*) AS n FROM alerts
      WHERE run_id IN ${q(runIds)} AND status = 'open' AND NOT muted
      GROUP BY run_id, severity
      ORDER BY run_id, severity COLLATE "C"`;
  }

  /** Alerts with their run's uid and project's name, newest first. */
  private async select(conds: Fragment[], limit: number): Promise<AlertWithRun[]> {
    const q = this.db.q();
    return q<AlertWithRun[]>`
      SELECT ${q(A_COLS)}, r.uid AS run_uid, p.name AS project
      FROM alerts a JOIN runs r ON r.id = a.run_id JOIN projects p ON p.id = a.project_id
      WHERE ${and(q, conds)}
      ORDER BY a.id DESC
      LIMIT ${limit}`;
  }
}
