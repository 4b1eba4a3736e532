import type { Project, RuleSettingsBody } from '@gradwatch/shared';
import { notFound } from '../http-errors.js';
import type { RuleSettings } from '../rules/types.js';
import type { ProjectRow, ProjectsRepo } from './projects.repo.js';

export type ProjectRuleSettings = Record<string, Partial<RuleSettings>>;

/** Projects: listing, lookup, and the rule settings each one keeps. */
export class ProjectsService {
  constructor(private readonly repo: ProjectsRepo) {}

  list(): Project[] {
    return this.repo.withCounts().map((p) => ({ name: p.name, runCount: p.runCount, createdAt: p.createdAt, lastSeenAt: p.lastSeenAt }));
  }

  find(name: string): ProjectRow | undefined {
    return this.repo.byName(name);
  }

  /** The project, or a 404 naming it. */
  require(name: string): ProjectRow {
    const p = this.repo.byName(name);
    if (!p) throw notFound(`no project ${name}`);
    return p;
  }

  /** Projects come into being with their first run, or their first settings or webhook. */
  ensure(name: string): ProjectRow {
    return this.repo.ensure(name);
  }

  nameOf(projectId: number): string {
    return this.repo.byId(projectId)?.name ?? '';
  }

  ruleSettings(p: ProjectRow): ProjectRuleSettings {
    try {
      return JSON.parse(p.ruleSettings) as ProjectRuleSettings;
    } catch {
      return {};
    }
  }

  saveRuleSettings(projectId: number, settings: RuleSettingsBody): void {
    this.repo.setRuleSettings(projectId, JSON.stringify(settings));
  }

  delete(projectId: number): void {
    this.repo.delete(projectId);
  }
}
