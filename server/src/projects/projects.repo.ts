import { eq, sql } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { projects, runs } from '../storage/schema.js';

export type ProjectRow = typeof projects.$inferSelect;

/** Projects and their rule settings: queries only. */
export class ProjectsRepo {
  constructor(private readonly db: Db) {}

  byName(name: string): ProjectRow | undefined {
    return this.db.select().from(projects).where(eq(projects.name, name)).get();
  }

  byId(id: number): ProjectRow | undefined {
    return this.db.select().from(projects).where(eq(projects.id, id)).get();
  }

  ensure(name: string): ProjectRow {
    this.db.insert(projects).values({ name }).onConflictDoNothing().run();
    const p = this.byName(name);
    if (!p) throw new Error(`project ${name} vanished`);
    return p;
  }

  withCounts(): Array<ProjectRow & { runCount: number; lastSeenAt: string | null }> {
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

  setRuleSettings(projectId: number, json: string): void {
    this.db.update(projects).set({ ruleSettings: json }).where(eq(projects.id, projectId)).run();
  }

  delete(projectId: number): void {
    this.db.delete(projects).where(eq(projects.id, projectId)).run();
  }
}
