import { topVerdict, type Diagnosis, type RunInfo, type ServerMsg } from '@gradwatch/shared';
import type { RunRef } from '../alerts/alert-ledger.js';
import type { AlertChange, DiagnosingRunEngine, ModelView, RuleSettings } from '../rules/types.js';
import { layerOrderOf, type LayerOrder } from './decode.js';

const keyOf = (d: Diagnosis | null): string => (d ? `${d.cause}:${d.severity}` : '');

/** The other end of an ingest socket, as the write path sees it. */
export interface Peer {
  readonly id: number;
  send(msg: ServerMsg): void;
  close(code: number, reason: string): void;
}

export type RuleSettingsMap = Record<string, Partial<RuleSettings>>;

/** What the seq rules say of a message: store it, ack it again, wait for its commit, or a gap. */
export type Admission = { kind: 'next' } | { kind: 'stored' } | { kind: 'pending' } | { kind: 'gap'; expected: number };

/** A session's state before a batch (RunSession.mark). */
export interface SessionMark {
  seq: number;
  step: number | null;
  diagnoses: string | null;
  top: string;
  model: ModelView | null;
  order: LayerOrder;
  ended: boolean;
}

export interface SessionInit {
  ref: RunRef;
  lastSeq: number;
  lastStep: number | null;
  engine: DiagnosingRunEngine;
  settings: RuleSettingsMap;
  /** The verdict as stored, JSON. */
  diagnosesJson: string;
  /** The lease this server writes the run under (0 on a single-server store). */
  epoch: number;
  /** The stored run has ended (its status is not live). */
  ended: boolean;
}

/**
 * One run as the ingest path holds it between messages: its seq and step progress, its model
 * and layer order, its rule engine and settings, and the connection that owns it. Made or
 * restored only by RunSessions, changed only through these methods.
 */
export class RunSession {
  readonly ref: RunRef;
  /** Highest seq committed. */
  private committedSeq: number;
  /** Highest seq accepted into the write queue (committed or not). */
  private acceptedSeq: number;
  /** Highest step written (pending included); steps must exceed it. */
  private lastStepValue: number | null;
  private modelValue: ModelView | null = null;
  private runInfo: RunInfo | null = null;
  private orderValue: LayerOrder = layerOrderOf(null);
  private engineValue: DiagnosingRunEngine;
  /** The verdict as last stored (JSON), so an unchanged verdict is not written again; null: unknown. */
  private diagnosesJson: string | null;
  /** cause:severity of the top verdict last announced ('' for none). */
  private topKey: string;
  private settingsValue: RuleSettingsMap;
  private ownerValue: Peer | null = null;
  private endedValue: boolean;
  /** Every progress write is fenced by it: a takeover by another server makes it stale. */
  readonly epoch: number;

  constructor(init: SessionInit) {
    this.ref = init.ref;
    this.committedSeq = init.lastSeq;
    this.acceptedSeq = init.lastSeq;
    this.lastStepValue = init.lastStep;
    this.engineValue = init.engine;
    this.settingsValue = init.settings;
    this.diagnosesJson = init.diagnosesJson;
    this.epoch = init.epoch;
    this.endedValue = init.ended;
    this.topKey = keyOf(topVerdict(JSON.parse(init.diagnosesJson) as Diagnosis[]));
  }

  get uid(): string {
    return this.ref.uid;
  }
  get lastSeq(): number {
    return this.committedSeq;
  }
  get lastStep(): number | null {
    return this.lastStepValue;
  }
  get model(): ModelView | null {
    return this.modelValue;
  }
  get order(): LayerOrder {
    return this.orderValue;
  }
  get engine(): DiagnosingRunEngine {
    return this.engineValue;
  }
  get owner(): Peer | null {
    return this.ownerValue;
  }
  /** The run has ended and nothing came after its end (a hello alone does not reopen it). */
  get ended(): boolean {
    return this.endedValue;
  }

  /**
   * The ended flag as stored, after a message or a batch failed: on an ended run the engine closes
   * what the failed writes opened (none of it is stored), so a reopen judges it all again.
   */
  restoreEnded(ended: boolean): void {
    this.endedValue = ended;
    if (ended) this.engineValue.onEnded();
  }

  setEnded(ended: boolean): void {
    this.endedValue = ended;
  }

  /** The seq rules (docs/protocol.md): only lastSeq + 1 is stored; an accepted seq is consumed. */
  admit(seq: number): Admission {
    if (seq <= this.acceptedSeq) return seq <= this.committedSeq ? { kind: 'stored' } : { kind: 'pending' };
    if (seq > this.acceptedSeq + 1) return { kind: 'gap', expected: this.acceptedSeq + 1 };
    this.acceptedSeq = seq;
    return { kind: 'next' };
  }

  /** A message's transaction committed. */
  committed(seq: number): void {
    this.committedSeq = Math.max(this.committedSeq, seq);
  }

  advanceStep(step: number): void {
    this.lastStepValue = step;
  }

  /** Back to what the database holds, after a rollback or a rewind; queued seqs are forgotten. */
  reset(lastSeq: number, lastStep: number | null): void {
    this.committedSeq = lastSeq;
    this.acceptedSeq = lastSeq;
    this.lastStepValue = lastStep;
  }

  /** What writing a batch changes here, to put back if its transaction is undone (queued seqs stay accepted). */
  mark(): SessionMark {
    return { seq: this.committedSeq, step: this.lastStepValue, diagnoses: this.diagnosesJson, top: this.topKey, model: this.modelValue, order: this.orderValue, ended: this.endedValue };
  }

  restore(m: SessionMark): void {
    this.committedSeq = m.seq;
    this.lastStepValue = m.step;
    this.diagnosesJson = m.diagnoses;
    this.topKey = m.top;
    this.modelValue = m.model;
    this.orderValue = m.order;
    this.endedValue = m.ended;
  }

  setModel(model: ModelView): void {
    this.modelValue = model;
    // Series-name strings are kept across models: the same layer keeps the same names.
    this.orderValue = layerOrderOf(model, this.orderValue.names);
  }

  /** The job's hello, told to the engine (which judges the configuration unless the run ended). */
  hello(run: RunInfo): AlertChange[] {
    this.runInfo = run;
    return this.engineValue.onHello(run, { ended: this.endedValue });
  }

  /**
   * New rule settings with a fresh engine, which is told the run and the model at once and then
   * takes over the old one's open alerts and verdict. What those calls return is not raised (no
   * transaction here), so a configuration alert that only the new settings open is not stored.
   */
  useEngine(engine: DiagnosingRunEngine, settings: RuleSettingsMap): void {
    const prev = this.engineValue;
    this.engineValue = engine;
    this.settingsValue = settings;
    if (this.runInfo) engine.onHello(this.runInfo, { ended: this.endedValue });
    if (this.modelValue) engine.onModel(this.modelValue);
    // The alerts open and the verdict so far carry over: a settings change starts neither anew.
    engine.succeed(prev);
  }

  /** The verdict as JSON when it differs from the one last stored (and remembers it), else null. */
  changedDiagnoses(json: string): string | null {
    if (json === this.diagnosesJson) return null;
    this.diagnosesJson = json;
    return json;
  }

  /** true when the top verdict (its cause or severity) differs from the one last announced. */
  changedTop(top: Diagnosis | null): boolean {
    const k = keyOf(top);
    if (k === this.topKey) return false;
    this.topKey = k;
    return true;
  }

  /** After a rollback the stored verdict is not known for sure: write the next one whatever it is. */
  forgetDiagnoses(): void {
    this.diagnosesJson = null;
  }

  /** Whether the project marked this rule as one that stops the training job. */
  stopsOn(rule: string): boolean {
    return this.settingsValue[rule]?.stop === true;
  }

  /** Takes ownership for `peer`; returns the connection it took the run from, if any. */
  attach(peer: Peer): Peer | null {
    const prev = this.ownerValue !== peer ? this.ownerValue : null;
    this.ownerValue = peer;
    return prev;
  }

  /** true when `peer` owned the run and no longer does. */
  detach(peer: Peer): boolean {
    if (this.ownerValue !== peer) return false;
    this.ownerValue = null;
    return true;
  }
}
