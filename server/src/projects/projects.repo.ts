import { eq, sql } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { projects, runs } from '../storage/schema.js';

export type ProjectRow = typeof projects.$inferSelect;

/** Projects and their rule settings: queries only. */
export interface ProjectsRepo {
  byName(name: string): Promise<ProjectRow | undefined>;
  byId(id: number): Promise<ProjectRow | undefined>;
  ensure(name: string): Promise<ProjectRow>;
  withCounts(): Promise<Array<ProjectRow & { runCount: number; lastSeenAt: string | null }>>;
  setRuleSettings(projectId: number, json: string): Promise<void>;
  delete(projectId: number): Promise<void>;
}

export class SqliteProjectsRepo implements ProjectsRepo {
  constructor(private readonly db: Db) {}

  async byName(name: string): Promise<ProjectRow | undefined> {
    return this.db.select().from(projects).where(eq(projects.name, name)).get();
  }

  async byId(id: number): Promise<ProjectRow | undefined> {
    return this.db.select().from(projects).where(eq(projects.id, id)).get();
  }

  async ensure(name: string): Promise<ProjectRow> {
    this.db.insert(projects).values({ name }).onConflictDoNothing().run();
    const p = await this.byName(name);
    if (!p) throw new Error(`project ${name} vanished`);
    return p;
  }

  async withCounts(): Promise<Array<ProjectRow & { runCount: number; lastSeenAt: string | null }>> {
    return this.db
      .select({
        id: projects.id,
        name: projects.name,
        ruleSettings: projects.ruleSettings,
        createdAt: projects.createdAt,
        runCount: sql<number>`count(${runs.id})`,
        lastSeenAt: sql<string | null>`max(${runs.lastSeenAt})`,
      })
      .from(projects)
      .leftJoin(runs, eq(runs.projectId, projects.id))
      .groupBy(projects.id)
      .orderBy(projects.name)
      .all();
  }

  async setRuleSettings(projectId: number, json: string): Promise<void> {
    this.db.update(projects).set({ ruleSettings: json }).where(eq(projects.id, projectId)).run();
  }

  async delete(projectId: number): Promise<void> {
    this.db.delete(projects).where(eq(projects.id, projectId)).run();
  }
}
