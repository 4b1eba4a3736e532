/**
 * How a rule is written. A rule is a description (the catalogue row) plus a factory that makes
 * its per-run state. Rules never build AlertChange objects themselves: they tell a Sink that a
 * condition holds (`fire`) or was checked and does not hold (`clear`) for a layer, and the
 * engine owns the open/update/resolve lifecycle. Saying nothing means "not evaluated" (inputs
 * absent), which neither opens nor resolves anything.
 */
import type { Severity } from '@gradwatch/shared';
import type { LayerRow, RunContext } from './context.js';
import type { EvalView, StepView } from './types.js';
import { Sustain } from './util.js';

export const SECTIONS = {
  data: 'Data normalization',
  init: 'Weight initialization',
  epochs: 'Epochs and iterations',
  lr: 'Learning rate',
  schedule: 'Policies and schedules',
  act: 'Activation functions',
  output: 'Output layer and loss function',
  reg: 'Regularization',
  batch: 'Minibatch size',
  optim: 'Updater and optimization algorithm',
  gradNorm: 'Gradient normalization',
  vanishing: 'Vanishing gradients',
  rnn: 'Recurrent networks and truncated BPTT',
  units: 'Visible and hidden units',
  nan: 'NaN (not a number)',
} as const;
export type Section = (typeof SECTIONS)[keyof typeof SECTIONS];

export interface Sink {
  /**
   * The condition holds for `layer` (undefined = the whole run) at the current step. The advice
   * is the rule's `adviceFor(evidence)`, never passed separately, so the two cannot disagree.
   */
  fire(layer: string | undefined, evidence: Record<string, unknown>, severity?: Severity): void;
  /** The condition was checked for `layer` and does not hold. */
  clear(layer?: string): void;
}

export interface RuleInstance {
  /**
   * Static rules: called after hello and after every model message. Whatever it does not fire
   * is resolved at once (the configuration no longer has the problem).
   */
  check?(ctx: RunContext, sink: Sink): void;
  onStep?(ctx: RunContext, step: StepView, sink: Sink): void;
  onEval?(ctx: RunContext, ev: EvalView, sink: Sink): void;
}

export interface RuleDef<T extends Record<string, number> = Record<string, number>> {
  id: string;
  section: Section;
  severity: Severity;
  /** When it fires, in one or two sentences. */
  condition: string;
  /** Defaults; a project may override any of them by name. */
  thresholds: T;
  /** What a client must send for the rule to be evaluated at all. */
  requires: string[];
  advice: string;
  /** Advice that depends on the evidence (e.g. the NaN's likely cause); `advice` otherwise. */
  adviceFor?(evidence: Record<string, unknown>): string;
  /**
   * Evaluations in a row without the condition before an open alert resolves. Streaming
   * rules wait so a flapping condition does not open and close alerts every few steps.
   */
  clearAfter: number;
  create(t: T): RuleInstance;
}

/** Keeps each rule's thresholds typed inside its own file while the catalogue holds them all. */
export function defineRule<T extends Record<string, number>>(d: RuleDef<T>): RuleDef {
  return d as unknown as RuleDef;
}

/**
 * The sustained-condition protocol shared by the streaming rules: record whether the condition
 * held this step and, once it is no longer sustained, tell the sink it cleared. Returns whether
 * it is sustained; firing stays with the caller because the evidence is the rule's own, and
 * most rules fire only on a hit step (a sustained miss neither fires nor clears: it holds).
 */
export function sustained(sus: Sustain, sink: Sink, hit: boolean, layer?: string): boolean {
  if (sus.push(hit)) return true;
  sink.clear(layer);
  return false;
}

/** One Sustain per layer, made on the layer's first observation (layers can appear mid-run). */
export class PerLayerSustain {
  /** By LayerRow.id: an array index, not a name lookup, on the per-step path. */
  private readonly per: Array<Sustain | undefined> = [];
  private readonly names: string[] = [];
  constructor(readonly window: number, readonly need: number) {}

  /** `sustained` for the layer of `row`. */
  push(sink: Sink, row: LayerRow, hit: boolean): boolean {
    let sus = this.per[row.id];
    if (!sus) {
      this.per[row.id] = sus = new Sustain(this.window, this.need);
      this.names.push(row.name);
    }
    return sustained(sus, sink, hit, row.name);
  }

  /** Hits in the layer's current window (evidence for the alert). */
  count(row: LayerRow): number {
    return this.per[row.id]?.count ?? 0;
  }

  /** Every layer observed so far. */
  layers(): readonly string[] {
    return this.names;
  }
}
