import type { ProjectRuleSettings as SettingsReply, RuleList, RuleSettingsBody } from '@gradwatch/shared';
import { badRequest } from '../http-errors.js';
import type { ProjectRuleSettings, ProjectsService } from '../projects/projects.service.js';
import { RULE_CATALOGUE, validateRuleSettings } from './catalogue.js';

/** Who applies new settings to runs in memory (ingest), at once. */
export type SettingsListener = (projectId: number, settings: ProjectRuleSettings) => void;

/** The rule catalogue and per-project rule settings (thresholds, disabled rules, stopping rules). */
export class RulesService {
  private readonly listeners: SettingsListener[] = [];

  constructor(private readonly projects: ProjectsService) {}

  catalogue(): RuleList {
    return { rules: RULE_CATALOGUE.map((r) => ({ ...r, thresholds: { ...r.thresholds }, requires: [...r.requires] })) };
  }

  async settingsOf(project: string): Promise<SettingsReply> {
    const p = await this.projects.require(project);
    return { project: p.name, settings: this.projects.ruleSettings(p) as RuleSettingsBody };
  }

  onChange(listener: SettingsListener): void {
    this.listeners.push(listener);
  }

  /** Validates and stores a project's settings; they take effect at once for its runs in memory. */
  async replace(project: string, body: RuleSettingsBody): Promise<SettingsReply> {
    const checked = validateRuleSettings(body);
    if (!checked.ok) throw badRequest(checked.error);
    // Settings may be made ready before the project's first run arrives.
    const p = await this.projects.ensure(project);
    await this.projects.saveRuleSettings(p.id, checked.value as RuleSettingsBody);
    for (const l of this.listeners) l(p.id, checked.value);
    return { project: p.name, settings: checked.value as RuleSettingsBody };
  }
}
