/**
 * Replays a recorded corpus run (wire messages, as tools/corpus/record.py wrote them) through
 * the rule engine the way ingest feeds it, with ingest's own decoding (markers, the update ratio
 * and the first/last grad-norm ratio). Keeps every alert change and the verdict after
 * each message that changed it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnosis, EndStatus, EvalMsg, LayerInfo, RunInfo, StepsMsg } from '@gradwatch/shared';
import { decodeTree } from '@gradwatch/shared/wire';
import { decodeEval, decodeStep, layerOrderOf } from '../../server/src/ingest/decode.js';
import { createRunEngine, type AlertChange, type DiagnosingRunEngine, type ModelView, type RunEngineOptions } from '../../server/src/rules/index.js';

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

export function replay(run: CorpusRun, opts: RunEngineOptions = {}): ReplayResult {
  const engine = createRunEngine(opts);
  const changes: AlertChange[] = [];
  const timeline: Snapshot[] = [];
  let model: ModelView | undefined;
  let order = layerOrderOf(null);
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
      order = layerOrderOf(model, order.names);
      take(engine.onModel(model), 0);
    } else if (m.type === 'steps') {
      // Decoded as ingest decodes them (markers, update ratio, grad-norm ratio), from the wire form.
      for (const item of (raw as unknown as StepsMsg).items) {
        lastStep = item.step;
        take(engine.onStep(decodeStep(item, order).view), item.step);
      }
    } else if (m.type === 'eval') {
      const ev = decodeEval(raw as unknown as EvalMsg).view;
      take(engine.onEval(ev), ev.step);
    } else if (m.type === 'end') {
      take(engine.onEnd(m.status as EndStatus), lastStep);
    }
  }
  return { run, engine, changes, timeline, final: engine.diagnoses() };
}

/** The diagnoses a user is shown: warning and critical (info ones are hints). */
export const shown = (ds: Diagnosis[]): Diagnosis[] => ds.filter((d) => d.severity !== 'info');
