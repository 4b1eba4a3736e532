/**
 * From symptoms to a ranked verdict (docs/diagnosis.md):
 *  1. every symptom votes for the causes it can come from, with its link weight times a
 *     severity factor (an info alert is a hint, not a measurement of the fault);
 *  2. a cause is a candidate when it is some symptom's own cause or strongly linked to a
 *     warning; its score is the noisy-OR of its votes;
 *  3. each symptom goes to the candidate that best explains it (score × link weight);
 *  4. causal precedence: a candidate that a stronger-anchored upstream cause produces (the
 *     cause graph), seen no earlier than it (FOLD_SLACK), is folded under it with its symptoms;
 *  5. confidence = noisy-OR over the symptoms a diagnosis ends up explaining (its info alerts
 *     in full once a warning of the same diagnosis confirms them); ranked by
 *     severity, then confidence, then the earliest first step.
 */
import type { Diagnosis, RootCause, Severity } from '@gradwatch/shared';
import { FOLD_SLACK, PRODUCES, TITLES, linksOf, type Link } from './causes.js';
import { adviceFor, summarize, type RunFacts } from './advice.js';
import { SEVERITY_RANK, type Symptom } from './symptoms.js';

const SEVERITY_FACTOR: Record<Severity, number> = { info: 0.4, warning: 1, critical: 1 };
/** A link at least this strong from a warning makes its cause a candidate on its own. */
const STRONG = 0.6;
/**
 * Info alerts that state a configuration fact (sigmoid/tanh in a deep net, a learning rate far out
 * of range): enough to anchor their cause as the upstream one of measured symptoms.
 */
const CONFIG_ANCHORS = new Set(['act.saturating_hidden', 'lr.config_out_of_range', 'init.constant']);

interface Candidate {
  cause: RootCause;
  score: number;
  /** First step of the symptoms that anchor it (own or strongly linked). */
  onset: number;
  /** It is the own cause of a warning or critical symptom. */
  anchored: boolean;
  symptoms: Symptom[];
  explains: Set<RootCause>;
}

const weightOf = (links: readonly Link[], c: RootCause): number | undefined => links.find((l) => l[0] === c)?.[1];

export function diagnose(symptoms: Iterable<Symptom>, facts: RunFacts): Diagnosis[] {
  const all = [...symptoms];
  const links = new Map(all.map((s) => [s, linksOf(s)] as const));
  const cands = new Map<RootCause, Candidate>();
  const cand = (c: RootCause): Candidate => {
    let x = cands.get(c);
    if (!x) cands.set(c, (x = { cause: c, score: 0, onset: Infinity, anchored: false, symptoms: [], explains: new Set() }));
    return x;
  };
  for (const s of all) {
    const ls = links.get(s) ?? [];
    ls.forEach(([c, w], i) => {
      const serious = s.severity !== 'info';
      if (i === 0 || (serious && w >= STRONG)) {
        const x = cand(c);
        x.onset = Math.min(x.onset, s.firstStep);
        if (i === 0 && (serious || CONFIG_ANCHORS.has(s.rule))) x.anchored = true;
      }
    });
  }
  const miss = new Map<RootCause, number>();
  for (const s of all) {
    for (const [c, w] of links.get(s) ?? []) {
      if (!cands.has(c)) continue;
      miss.set(c, (miss.get(c) ?? 1) * (1 - w * SEVERITY_FACTOR[s.severity]));
    }
  }
  for (const x of cands.values()) x.score = 1 - (miss.get(x.cause) ?? 1);

  // Each symptom goes where it is best explained: the cause's score times the symptom's link to it.
  for (const s of all) {
    let best: Candidate | undefined;
    let bestP = -1;
    for (const [c, w] of links.get(s) ?? []) {
      const x = cands.get(c);
      if (x && x.score * w > bestP) {
        best = x;
        bestP = x.score * w;
      }
    }
    best?.symptoms.push(s);
  }

  // Causal precedence, upstream first: fold every produced candidate into its best upstream one.
  let changed = true;
  while (changed) {
    changed = false;
    for (const down of cands.values()) {
      if (down.symptoms.length === 0) continue;
      // The upstream cause seen first is the likelier root; ties go to the stronger one.
      let up: Candidate | undefined;
      for (const x of cands.values()) {
        if (x === down || x.symptoms.length === 0 || !x.anchored || !PRODUCES[x.cause]?.includes(down.cause)) continue;
        if (x.onset > down.onset + FOLD_SLACK) continue;
        if (!up || x.onset < up.onset || (x.onset === up.onset && x.score > up.score)) up = x;
      }
      if (!up) continue;
      up.symptoms.push(...down.symptoms);
      up.explains.add(down.cause);
      for (const e of down.explains) up.explains.add(e);
      down.symptoms = [];
      changed = true;
    }
  }

  const out: Diagnosis[] = [];
  for (const x of cands.values()) {
    if (x.symptoms.length === 0) continue;
    let miss2 = 1;
    let severity: Severity = 'info';
    let first = Infinity;
    let last = 0;
    // An info alert is a hint until a measured (warning or critical) symptom of the same
    // diagnosis confirms it matters: then it counts in full.
    const confirmed = x.symptoms.some((s) => s.severity !== 'info');
    for (const s of x.symptoms) {
      const w = weightOf(links.get(s) ?? [], x.cause) ?? 0.5 * ((links.get(s) ?? [])[0]?.[1] ?? 0.5);
      miss2 *= 1 - w * (confirmed ? 1 : SEVERITY_FACTOR[s.severity]);
      if (SEVERITY_RANK[s.severity] > SEVERITY_RANK[severity]) severity = s.severity;
      first = Math.min(first, s.firstStep);
      last = Math.max(last, s.lastStep);
    }
    x.symptoms.sort((a, b) => a.firstStep - b.firstStep || a.rule.localeCompare(b.rule));
    // The causes it explains: those folded under it and the own causes of the symptoms it took.
    for (const s of x.symptoms) {
      const own = (links.get(s) ?? [])[0]?.[0];
      if (own && own !== x.cause) x.explains.add(own);
    }
    out.push({
      cause: x.cause,
      title: TITLES[x.cause],
      rank: 0,
      severity,
      confidence: Math.round((1 - miss2) * 1000) / 1000,
      active: x.symptoms.some((s) => s.open),
      firstStep: first,
      lastStep: last,
      symptoms: x.symptoms.map((s) => ({
        rule: s.rule, severity: s.severity, firstStep: s.firstStep, lastStep: s.lastStep, open: s.open,
        ...(s.layers.length ? { layers: [...s.layers] } : {}),
      })),
      explains: [...x.explains].sort(),
      evidence: summarize(x.symptoms),
      advice: adviceFor(x.cause, x.symptoms, facts),
    });
  }
  out.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || b.confidence - a.confidence || a.firstStep - b.firstStep);
  out.forEach((d, i) => (d.rank = i + 1));
  return out;
}
