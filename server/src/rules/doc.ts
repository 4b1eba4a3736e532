/**
 * Renders the rule reference of docs/rules.md from the catalogue, so the documentation is the
 * code's own description (a test keeps the file in step; regenerate with
 * `npx tsx server/src/rules/doc.ts --write`).
 */
import { RULE_CATALOGUE, type RuleInfo } from './catalogue.js';

const anchor = (id: string): string => id.replace(/[^a-z0-9_]/g, '');

function entry(r: RuleInfo): string {
  const th = Object.entries(r.thresholds);
  return [
    `### ${r.id}`,
    '',
    `* **Severity**: ${r.severity}`,
    `* **Condition**: ${r.condition}`,
    `* **Default thresholds**: ${th.length ? th.map(([k, v]) => `\`${k}\` = ${v}`).join(', ') : 'none'}`,
    `* **Resolves after**: ${r.clearAfter} clear evaluation(s)`,
    `* **Requires**: ${r.requires.join('; ')}`,
    `* **Advice**: ${r.advice}`,
    '',
  ].join('\n');
}

/** Everything from "## Rule index" to the end of docs/rules.md. */
export function renderRuleReference(rules: readonly RuleInfo[] = RULE_CATALOGUE): string {
  const out = ['## Rule index', '', '| id | section | default severity |', '|---|---|---|'];
  for (const r of rules) out.push(`| [\`${r.id}\`](#${anchor(r.id)}) | ${r.section} | ${r.severity} |`);
  out.push('');
  const sections = [...new Set(rules.map((r) => r.section))];
  for (const s of sections) {
    out.push(`## ${s}`, '');
    for (const r of rules.filter((x) => x.section === s)) out.push(entry(r));
  }
  return out.join('\n');
}

export const RULE_INDEX_HEADING = '## Rule index';

if (process.argv.includes('--write')) {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const path = new URL('../../../docs/rules.md', import.meta.url);
  const doc = readFileSync(path, 'utf8');
  const head = doc.slice(0, doc.indexOf(RULE_INDEX_HEADING));
  writeFileSync(path, head + renderRuleReference());
}
