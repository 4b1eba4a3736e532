import type { PgDb } from '../storage/pg.js';
import { rowKeys } from '../storage/pg-sql.js';
import { projects } from '../storage/schema.js';
import type { ProjectRow, ProjectsRepo } from './projects.repo.js';

const COLS = rowKeys(projects);
const P_COLS = rowKeys(projects, 'p');

/**
 * Projects on PostgreSQL: the same queries as SqliteProjectsRepo. Text is ordered and compared
 * with COLLATE "C" (byte order, as SQLite's BINARY), whatever the database's default collation.
 */
export class PgProjectsRepo implements ProjectsRepo {
  constructor(private readonly db: PgDb) {}

  async byName(name: string): Promise<ProjectRow | undefined> {
    const q = this.db.q();
    const [row] = await q<ProjectRow[]>`SELECT ${q(COLS)} FROM projects WHERE name = ${name}`;
    return row;
  }

  async byId(id: number): Promise<ProjectRow | undefined> {
    const q = this.db.q();
    const [row] = await q<ProjectRow[]>`SELECT ${q(COLS)} FROM projects WHERE id = ${id}`;
    return row;
  }

  /**
   * Looked up first: an INSERT ... ON CONFLICT DO NOTHING on an existing name would still take
   * a number from the id sequence, and ensure() runs on every run start.
   */
  async ensure(name: string): Promise<ProjectRow> {
    const found = await this.byName(name);
    if (found) return found;
    const q = this.db.q();
    const [row] = await q<ProjectRow[]>`INSERT INTO projects (name) VALUES (${name}) ON CONFLICT (name) DO NOTHING RETURNING ${q(COLS)}`;
    // Another server inserted it between the two statements: read theirs.
    const p = row ?? (await this.byName(name));
    if (!p) throw new Error(`project ${name} vanished`);
    return p;
  }

  async withCounts(): Promise<Array<ProjectRow & { runCount: number; lastSeenAt: string | null }>> {
    const q = this.db.q();
    return q<Array<ProjectRow & { runCount: number; lastSeenAt: string | null }>>`
      SELECT ${q(P_COLS)}, count(r.id) AS run_count, max(r.last_seen_at COLLATE "C") AS last_seen_at
      FROM projects p LEFT JOIN runs r ON r.project_id = p.id
      GROUP BY p.id
      ORDER BY p.name COLLATE "C"`;
  }

  async setRuleSettings(projectId: number, json: string): Promise<void> {
    const q = this.db.q();
    await q`UPDATE projects SET rule_settings = ${json} WHERE id = ${projectId}`;
  }

  async delete(projectId: number): Promise<void> {
    const q = this.db.q();
    await q`DELETE FROM projects WHERE id = ${projectId}`;
  }
}
