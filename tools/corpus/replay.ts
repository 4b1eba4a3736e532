/**
 * Replays a recorded corpus run (wire messages, as tools/corpus/record.py wrote them) through
 * the rule engine the way ingest feeds it: markers decoded, the update ratio and the first/last
 * grad-norm ratio derived per docs/protocol.md. Keeps every alert change and the verdict after
 * each message that changed it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnosis, EndStatus, LayerInfo, RunInfo, StatKind } from '@gradwatch/shared';
import { decodeTree } from '@gradwatch/shared/wire';
import {
  createRunEngine, type AlertChange, type DiagnosingRunEngine, type EvalView, type ModelView, type NumInputs, type NumStats,
  type RunEngineOptions, type StepView,
} from '../../server/src/rules/index.js';

export const CORPUS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'server', 'test', 'diagnosis', 'corpus');

export interface CorpusRun {
  name: string;
  arch: string;
  description: string;
  heldOut: boolean;
  fault: { cause: string; onset: number } | null;
  firstNonFiniteStep: number | null;
  messages: Record<string, unknown>[];
}

export function corpusNames(): string[] {
  return readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

export function loadRun(name: string): CorpusRun {
  return JSON.parse(readFileSync(join(CORPUS_DIR, `${name}.json`), 'utf8')) as CorpusRun;
}

export interface Snapshot {
  step: number;
  diagnoses: Diagnosis[];
}

export interface ReplayResult {
  run: CorpusRun;
  engine: DiagnosingRunEngine;
  changes: AlertChange[];
  /** The verdict after every message that changed it. */
  timeline: Snapshot[];
  final: Diagnosis[];
}

type RawStats = Record<string, number>;
interface RawItem {
  step: number;
  epoch?: number;
  examples?: number;
  scalars: Record<string, number>;
  layers?: Record<string, Partial<Record<StatKind, RawStats>>>;
  inputs?: NumInputs;
}

function updateRatio(l: Partial<Record<StatKind, NumStats>>): number | undefined {
  const u = l.update?.meanAbs;
  const p = l.param?.meanAbs;
  if (u === undefined || p === undefined) return undefined;
  if (u === 0) return Number.NEGATIVE_INFINITY;
  if (p === 0) return Number.POSITIVE_INFINITY;
  return Math.log10(u / p);
}

function stepView(item: RawItem, model: ModelView | undefined): StepView {
  const layers = (item.layers ?? {}) as StepView['layers'];
  const ratios: Record<string, number> = {};
  const frozen = new Set(model?.layers.filter((l) => l.trainable === false).map((l) => l.name));
  for (const [name, l] of Object.entries(layers)) {
    const r = updateRatio(l);
    if (r !== undefined && !frozen.has(name)) ratios[name] = r;
  }
  const v: StepView = { step: item.step, scalars: item.scalars, layers, updateRatio: ratios };
  if (item.epoch !== undefined) v.epoch = item.epoch;
  if (item.examples !== undefined) v.examples = item.examples;
  if (item.inputs !== undefined) v.inputs = item.inputs;
  const first = model?.layers[0]?.name;
  const last = model?.layers[model.layers.length - 1]?.name;
  if (first !== undefined && last !== undefined && first !== last) {
    const a = layers[first]?.grad?.norm;
    const b = layers[last]?.grad?.norm;
    if (a !== undefined && b !== undefined && b !== 0) v.gradNormRatio = a / b;
  }
  return v;
}

export function replay(run: CorpusRun, opts: RunEngineOptions = {}): ReplayResult {
  const engine = createRunEngine(opts);
  const changes: AlertChange[] = [];
  const timeline: Snapshot[] = [];
  let model: ModelView | undefined;
  let lastStep = 0;
  const take = (cs: AlertChange[], step: number): void => {
    if (cs.length === 0) return;
    changes.push(...cs);
    timeline.push({ step, diagnoses: engine.diagnoses() });
  };
  for (const raw of run.messages) {
    const m = decodeTree(raw) as Record<string, unknown> & { type: string };
    if (m.type === 'hello') take(engine.onHello(m.run as RunInfo), 0);
    else if (m.type === 'model') {
      model = { layers: m.layers as LayerInfo[] };
      if (typeof m.loss === 'string') model.loss = m.loss;
      if (m.optimizer) model.optimizer = m.optimizer as NonNullable<ModelView['optimizer']>;
      take(engine.onModel(model), 0);
    } else if (m.type === 'steps') {
      for (const item of m.items as RawItem[]) {
        lastStep = item.step;
        take(engine.onStep(stepView(item, model)), item.step);
      }
    } else if (m.type === 'eval') {
      const ev: EvalView = { step: m.step as number, split: m.split as EvalView['split'], metrics: m.metrics as Record<string, number> };
      if (typeof m.epoch === 'number') ev.epoch = m.epoch;
      if (m.inputs) ev.inputs = m.inputs as NumInputs;
      take(engine.onEval(ev), ev.step);
    } else if (m.type === 'end') {
      take(engine.onEnd(m.status as EndStatus), lastStep);
    }
  }
  return { run, engine, changes, timeline, final: engine.diagnoses() };
}

/** The diagnoses a user is shown: warning and critical (info ones are hints). */
export const shown = (ds: Diagnosis[]): Diagnosis[] => ds.filter((d) => d.severity !== 'info');
