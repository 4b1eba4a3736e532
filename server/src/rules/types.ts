/**
 * The contract between ingest and the rule engine. Ingest decodes every message (NaN and
 * ±Infinity markers become JS numbers) and hands the engine these views; the engine answers
 * with alert transitions, which the alert service stores and fans out. The engine itself is
 * pure: no I/O, no clock, state bounded per run.
 */
import type { Diagnosis, EndStatus, LayerInfo, RunInfo, Severity, StatKind } from '@gradwatch/shared';

export interface NumStats {
  mean: number;
  std: number;
  meanAbs: number;
  min?: number;
  max?: number;
  norm?: number;
  nonFinite?: number;
  fracZero?: number;
  fracSaturated?: number;
  fracDeadUnits?: number;
}

export interface NumInputs {
  mean: number;
  std: number;
  min: number;
  max: number;
  nonFinite?: number;
}

export interface ModelView {
  layers: LayerInfo[];
  loss?: string;
  optimizer?: { type: string; lr?: number; momentum?: number; weightDecay?: number; [k: string]: unknown };
}

export interface StepView {
  step: number;
  epoch?: number;
  time?: number;
  scalars: Record<string, number>;
  layers: Record<string, Partial<Record<StatKind, NumStats>>>;
  inputs?: NumInputs;
  /** Examples in this step's batch, when the client sends them (counts passes over a finite data set). */
  examples?: number;
  /** Derived per layer: log10(update.meanAbs / param.meanAbs); -Infinity for a zero update. */
  updateRatio: Record<string, number>;
  /** Derived: grad norm of the first layer / the last (forward order), when both are known. */
  gradNormRatio?: number;
}

export interface EvalView {
  step: number;
  epoch?: number;
  split: 'val' | 'test';
  metrics: Record<string, number>;
  inputs?: NumInputs;
}

/**
 * An alert transition. One alert exists per (run, rule) and episode: `layer` is the layer the
 * episode first fired on (stable for the episode, so (rule, layer) keys it as before) and
 * `layers` every layer it has fired on since, in forward order.
 */
export interface AlertChange {
  action: 'open' | 'update' | 'resolve';
  rule: string;
  section: string;
  severity: Severity;
  layer?: string;
  /** Every layer this alert covers (per-layer rules), forward order; absent for run-level alerts. */
  layers?: string[];
  /** The step this transition is about: firstStep on open, lastStep on update. */
  step: number;
  /** The step the episode began (equal to `step` on open). */
  firstStep: number;
  /** Always what `advice` was computed from: the two never disagree. */
  evidence: Record<string, unknown>;
  advice: string;
  /**
   * The last step at which the condition held. Updates are throttled, so on `resolve` this is
   * the alert's true lastStep (step is then the step at which the engine resolved it).
   */
  lastStep?: number;
  /** Set on `open` when the project marked this rule as stopping: send `command {stop}`. */
  stop?: boolean;
  /** On `resolve` when it was not the condition clearing: "ended with the run". */
  reason?: string;
}

export interface RuleSettings {
  enabled: boolean;
  stop: boolean;
  thresholds: Record<string, number>;
}

/** What ingest calls. One engine instance per run, created at hello. */
export interface RunEngine {
  /**
   * The run's hello: its info is kept and the configuration judged. With `ended` (a hello on a
   * run whose end is stored) nothing is judged and nothing stays open (onEnded): no alert may open
   * on a run that stays ended, so the configuration is judged when the run reopens (onReopen).
   */
  onHello(run: RunInfo, opts?: { ended?: boolean }): AlertChange[];
  onModel(model: ModelView): AlertChange[];
  onStep(step: StepView): AlertChange[];
  onEval(ev: EvalView): AlertChange[];
}

/**
 * The engine createRunEngine returns: the ingest contract plus the end of a run and its
 * verdict. (Kept as an extension so engines that only raise alerts still satisfy RunEngine.)
 */
export interface DiagnosingRunEngine extends RunEngine {
  /** The run sent `end`: every open alert resolves with reason "ended with the run". */
  onEnd(status: EndStatus): AlertChange[];
  /**
   * The run is ended and its end stored, so none of its alerts is open in the store: none stays
   * open here either (what a model replayed into a fresh engine, or a rolled-back message,
   * opened). Otherwise a reopen would take them for open and never store them again.
   */
  onEnded(): AlertChange[];
  /**
   * The first message after the end: the run is live again and its configuration judged again,
   * with `model` when a model message reopened it (that model judged instead of the one before).
   */
  onReopen(model?: ModelView): AlertChange[];
  /**
   * Alerts stored before this engine was made (a restart, a release), oldest first, as the
   * changes that made them: told to the diagnosis only, so its verdict keeps the whole run. No
   * rule takes them for its own, and nothing is returned.
   */
  recall(history: readonly AlertChange[]): void;
  /**
   * Alerts still open in the store when this engine was made, oldest first, as the changes that
   * opened them: each rule takes up its oldest as its own episode (alert-slot.ts `restore`), so
   * the rule's next fire, on whatever layer, continues that alert, and its clearing resolves it.
   * Nothing is returned or told to the verdict (recall does that).
   */
  restoreOpen(open: readonly AlertChange[]): void;
  /** The open episodes, as the changes that open them (for a successor engine). */
  openAlerts(): AlertChange[];
  /**
   * Takes over from the engine `prev` of the same run (new rule settings): its open alerts, for
   * the rules still enabled, and its verdict's state, so neither starts afresh.
   */
  succeed(prev: DiagnosingRunEngine): void;
  /**
   * The run's ranked verdict (docs/diagnosis.md), computed from the alerts so far. It changes
   * only on calls that returned at least one AlertChange, so ingest re-reads it only then.
   */
  diagnoses(): Diagnosis[];
}
