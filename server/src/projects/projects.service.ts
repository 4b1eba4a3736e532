import type { Project, RuleSettingsBody } from '@gradwatch/shared';
import { notFound } from '../http-errors.js';
import type { RuleSettings } from '../rules/types.js';
import type { ProjectRow, ProjectsRepo } from './projects.repo.js';

export type ProjectRuleSettings = Record<string, Partial<RuleSettings>>;

/** Projects: listing, lookup, and the rule settings each one keeps. */
export class ProjectsService {
  constructor(private readonly repo: ProjectsRepo) {}

  async list(): Promise<Project[]> {
    return (await this.repo.withCounts()).map((p) => ({ name: p.name, runCount: p.runCount, createdAt: p.createdAt, lastSeenAt: p.lastSeenAt }));
  }

  find(name: string): Promise<ProjectRow | undefined> {
    return this.repo.byName(name);
  }

  /** The project, or a 404 naming it. */
  async require(name: string): Promise<ProjectRow> {
    const p = await this.repo.byName(name);
    if (!p) throw notFound(`no project ${name}`);
    return p;
  }

  /** Projects come into being with their first run, or their first settings or webhook. */
  ensure(name: string): Promise<ProjectRow> {
    return this.repo.ensure(name);
  }

  async nameOf(projectId: number): Promise<string> {
    return (await this.repo.byId(projectId))?.name ?? '';
  }

  ruleSettings(p: ProjectRow): ProjectRuleSettings {
    try {
      return JSON.parse(p.ruleSettings) as ProjectRuleSettings;
    } catch {
      return {};
    }
  }

  saveRuleSettings(projectId: number, settings: RuleSettingsBody): Promise<void> {
    return this.repo.setRuleSettings(projectId, JSON.stringify(settings));
  }

  delete(projectId: number): Promise<void> {
    return this.repo.delete(projectId);
  }
}
