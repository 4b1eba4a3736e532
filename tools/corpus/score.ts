/**
 * Scores the diagnosis layer on the recorded corpus: recall (the injected cause is among the
 * shown diagnoses at the end), precision (shown diagnoses that name an injected cause, over all
 * shown, healthy runs included), top-1, diagnoses shown per faulty run, detection delay (first
 * step the top diagnosis names the fault, minus the fault's onset), and the healthy controls'
 * false alarms. Usage: npx tsx tools/corpus/score.ts [--runs] [--held-out | --tuning]
 */
import { corpusNames, loadRun, replay, shown, type ReplayResult } from './replay.js';

export interface RunScore {
  name: string;
  heldOut: boolean;
  cause: string | null;
  onset: number | null;
  top: string | null;
  shownFinal: string[];
  maxShown: number;
  /** First step at which the top shown diagnosis named the fault. */
  detectedAt: number | null;
  delay: number | null;
  /** Healthy: warning/critical alerts and diagnoses raised at any time. */
  falseAlarms: string[];
  /** Runs with a NaN: a critical diagnosis was there on the NaN's step. */
  nanOnStep: boolean | null;
}

export function scoreRun(r: ReplayResult): RunScore {
  const cause = r.run.fault?.cause ?? null;
  const onset = r.run.fault?.onset ?? null;
  const finalShown = shown(r.final);
  let maxShown = 0;
  let detectedAt: number | null = null;
  const alarms = new Set<string>();
  for (const snap of r.timeline) {
    const s = shown(snap.diagnoses);
    maxShown = Math.max(maxShown, s.length);
    if (detectedAt === null && cause !== null && s[0]?.cause === cause) detectedAt = snap.step;
    for (const d of s) alarms.add(`diagnosis:${d.cause}`);
  }
  for (const c of r.changes) if (c.action !== 'resolve' && c.severity !== 'info') alarms.add(`alert:${c.rule}`);
  const nanStep = r.run.firstNonFiniteStep;
  let nanOnStep: boolean | null = null;
  if (nanStep !== null) {
    const at = r.timeline.filter((s) => s.step <= nanStep).at(-1);
    nanOnStep = at !== undefined && at.step === nanStep && shown(at.diagnoses)[0]?.severity === 'critical';
  }
  return {
    name: r.run.name, heldOut: r.run.heldOut, cause, onset,
    top: finalShown[0]?.cause ?? null,
    shownFinal: finalShown.map((d) => d.cause),
    maxShown, detectedAt,
    delay: detectedAt !== null && onset !== null ? detectedAt - onset : null,
    falseAlarms: cause === null ? [...alarms].sort() : [],
    nanOnStep,
  };
}

export interface Summary {
  runs: number;
  faulty: number;
  healthy: number;
  recall: number;
  precision: number;
  top1: number;
  meanShown: number;
  maxShown: number;
  maxDelay: number | null;
  /** Faults that start mid-run (onset > 0): the largest delay. */
  maxMidRunDelay: number | null;
  healthyWithAlarms: number;
  nanOnStep: number;
  nanRuns: number;
}

export function summarize(scores: RunScore[]): Summary {
  const faulty = scores.filter((s) => s.cause !== null);
  const healthy = scores.filter((s) => s.cause === null);
  const shownAll = scores.flatMap((s) => s.shownFinal.map((c) => c === s.cause));
  const delays = faulty.map((s) => s.delay).filter((d): d is number => d !== null);
  const nan = scores.filter((s) => s.nanOnStep !== null);
  const mid = faulty.filter((s) => (s.onset ?? 0) > 0).map((s) => s.delay ?? Infinity);
  return {
    runs: scores.length,
    faulty: faulty.length,
    healthy: healthy.length,
    recall: faulty.filter((s) => s.cause !== null && s.shownFinal.includes(s.cause)).length / Math.max(1, faulty.length),
    precision: shownAll.filter(Boolean).length / Math.max(1, shownAll.length),
    top1: faulty.filter((s) => s.top === s.cause).length / Math.max(1, faulty.length),
    meanShown: faulty.reduce((n, s) => n + s.shownFinal.length, 0) / Math.max(1, faulty.length),
    maxShown: Math.max(0, ...faulty.map((s) => s.maxShown)),
    maxDelay: delays.length ? Math.max(...delays) : null,
    maxMidRunDelay: mid.length ? Math.max(...mid) : null,
    healthyWithAlarms: healthy.filter((s) => s.falseAlarms.length > 0).length,
    nanOnStep: nan.filter((s) => s.nanOnStep).length,
    nanRuns: nan.length,
  };
}

export function scoreCorpus(filter: (heldOut: boolean) => boolean = () => true): RunScore[] {
  return corpusNames().map(loadRun).filter((r) => filter(r.heldOut)).map((r) => scoreRun(replay(r)));
}

function print(label: string, s: Summary): void {
  const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
  console.log(`${label}: ${s.runs} runs (${s.faulty} faulty, ${s.healthy} healthy)`);
  console.log(`  recall ${pct(s.recall)}  precision ${pct(s.precision)}  top-1 ${pct(s.top1)}`);
  console.log(`  diagnoses shown per faulty run: mean ${s.meanShown.toFixed(2)}, max over the run ${s.maxShown}`);
  console.log(`  detection delay (steps after onset): max ${s.maxDelay ?? 'n/a'}, faults starting mid-run ${s.maxMidRunDelay ?? 'n/a'}`);
  console.log(`  healthy runs with a warning/critical alert or diagnosis: ${s.healthyWithAlarms}`);
  console.log(`  NaN runs with a critical diagnosis on the NaN's step: ${s.nanOnStep}/${s.nanRuns}`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ''))) {
  const args = process.argv.slice(2);
  const filter = args.includes('--held-out') ? (h: boolean) => h : args.includes('--tuning') ? (h: boolean) => !h : () => true;
  const scores = scoreCorpus(filter);
  if (args.includes('--runs')) {
    for (const s of scores) {
      const ok = s.cause === null ? (s.falseAlarms.length ? 'FALSE ALARM' : 'ok') : s.top === s.cause && s.maxShown <= 2 ? 'ok' : 'MISS';
      console.log(`${ok.padEnd(11)} ${s.name.padEnd(28)}${s.heldOut ? ' (held out)' : ''} want=${s.cause ?? '-'} top=${s.top ?? '-'} shown=[${s.shownFinal.join(', ')}] max=${s.maxShown} delay=${s.delay ?? '-'} nan=${s.nanOnStep ?? '-'} ${s.falseAlarms.join(' ')}`);
    }
  }
  print('all', summarize(scores));
  if (!args.includes('--held-out') && !args.includes('--tuning')) {
    print('held out', summarize(scores.filter((s) => s.heldOut)));
  }
}
