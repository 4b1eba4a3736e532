/**
 * The per-run engine: feeds each message to the rules, turns what they report into alert
 * transitions (alert-slot.ts owns the lifecycle: one alert per rule and episode, layers
 * listed, hysteresis) and keeps the run's diagnosis (server/src/diagnosis) in step with them.
 * Pure and synchronous: no clock, no I/O, state bounded by the number of rules and layers.
 */
import type { Diagnosis, EndStatus, RunInfo } from '@gradwatch/shared';
import { Diagnoser } from '../diagnosis/index.js';
import { AlertSlot, type SlotHost } from './alert-slot.js';
import { RunContext } from './context.js';
import { RULE_DEFS } from './registry.js';
import type { AlertChange, DiagnosingRunEngine, EvalView, ModelView, RuleSettings, StepView } from './types.js';

export interface RunEngineOptions {
  /** Per-rule overrides, keyed by rule id (validate with validateRuleSettings first). */
  settings?: Record<string, Partial<RuleSettings>>;
  /** Emit an `update` for an open alert at most once per this many steps (default 10). */
  updateEvery?: number;
  /**
   * ...and, for steps that carry their time, at most once per this many seconds of it (default
   * 1). Changes of severity, advice or layers are emitted at once whatever the two say.
   */
  updateSeconds?: number;
  /** Steps an alert waits, once its condition cleared, before its episode ends (default 100). */
  episodeGap?: number;
  /** Called when a rule throws; that rule is then switched off for this run. */
  onError?: (rule: string, err: unknown) => void;
}

export const ENDED_WITH_RUN = 'ended with the run';

class Engine implements DiagnosingRunEngine, SlotHost {
  readonly ctx = new RunContext();
  readonly updateEvery: number;
  readonly updateSeconds: number;
  readonly episodeGap: number;
  private readonly slots: AlertSlot[] = [];
  private readonly coolingSlots = new Set<AlertSlot>();
  private diagnoser = new Diagnoser();
  private out: AlertChange[] = [];
  private ended = false;

  constructor(private readonly opts: RunEngineOptions) {
    this.updateEvery = Math.max(1, opts.updateEvery ?? 10);
    this.updateSeconds = Math.max(0, opts.updateSeconds ?? 1);
    this.episodeGap = Math.max(0, opts.episodeGap ?? 100);
    for (const def of RULE_DEFS) {
      const s = opts.settings?.[def.id];
      if (s?.enabled === false) continue;
      const t: Record<string, number> = { ...def.thresholds };
      for (const [k, v] of Object.entries(s?.thresholds ?? {})) {
        // Defensive: the REST layer validates, but a bad stored value must not break ingest.
        if (k in t && typeof v === 'number' && !Number.isNaN(v)) t[k] = v;
      }
      this.slots.push(new AlertSlot(def, def.create(t), s?.stop === true, this));
    }
  }

  get step(): number {
    return this.ctx.step;
  }

  get time(): number | undefined {
    return this.ctx.time;
  }

  layerOrder(name: string): number {
    return this.ctx.layerIndex.get(name) ?? Number.MAX_SAFE_INTEGER;
  }

  emit(c: AlertChange): void {
    this.out.push(c);
    this.diagnoser.observe(c);
  }

  cooling(slot: AlertSlot, on: boolean): void {
    if (on) this.coolingSlots.add(slot);
    else this.coolingSlots.delete(slot);
  }

  private take(): AlertChange[] {
    if (this.coolingSlots.size > 0) for (const s of [...this.coolingSlots]) s.tick(this.ctx.step);
    const o = this.out;
    this.out = [];
    return o;
  }

  private guard(slot: AlertSlot, f: () => void): void {
    if (slot.disabled) return;
    try {
      f();
    } catch (err) {
      slot.disabled = true;
      this.opts.onError?.(slot.def.id, err);
    }
  }

  private recheck(): AlertChange[] {
    for (const slot of this.slots) {
      const check = slot.inst.check;
      if (!check) continue;
      slot.fired = new Set();
      this.guard(slot, () => check.call(slot.inst, this.ctx, slot));
      slot.settleRecheck();
    }
    return this.take();
  }

  onHello(run: RunInfo, opts: { ended?: boolean } = {}): AlertChange[] {
    this.ctx.setRun(run);
    return opts.ended ? this.onEnded() : this.recheck();
  }

  onReopen(model?: ModelView): AlertChange[] {
    this.ended = false;
    if (model) this.ctx.setModel(model);
    return this.recheck();
  }

  onModel(model: ModelView): AlertChange[] {
    this.ctx.setModel(model);
    return this.recheck();
  }

  onStep(step: StepView): AlertChange[] {
    this.ctx.observeStep(step);
    // The hot path: no closure per rule, just the call inside a try.
    for (const slot of this.slots) {
      if (slot.disabled || !slot.inst.onStep) continue;
      try {
        slot.inst.onStep(this.ctx, step, slot);
      } catch (err) {
        slot.disabled = true;
        this.opts.onError?.(slot.def.id, err);
      }
    }
    return this.take();
  }

  onEval(ev: EvalView): AlertChange[] {
    // Eval alerts are about the eval's own step; evals may arrive out of order with steps.
    const trainStep = this.ctx.step;
    this.ctx.step = ev.step;
    this.ctx.observeEval(ev);
    for (const slot of this.slots) {
      const f = slot.inst.onEval;
      if (f) this.guard(slot, () => f.call(slot.inst, this.ctx, ev, slot));
    }
    this.ctx.step = trainStep;
    return this.take();
  }

  onEnd(_status: EndStatus): AlertChange[] {
    return this.onEnded();
  }

  onEnded(): AlertChange[] {
    this.ended = true;
    for (const slot of this.slots) if (slot.isOpen) slot.resolve(ENDED_WITH_RUN);
    this.coolingSlots.clear();
    const o = this.out;
    this.out = [];
    return o;
  }

  recall(history: readonly AlertChange[]): void {
    for (const c of history) this.diagnoser.observe(c);
  }

  restoreOpen(open: readonly AlertChange[]): void {
    const taken = new Set<AlertSlot>();
    for (const c of open) {
      const slot = this.slots.find((s) => s.def.id === c.rule);
      // The oldest of a rule's open alerts is its episode; any other is left to the run's end.
      if (!slot || slot.disabled || taken.has(slot)) continue;
      taken.add(slot);
      slot.restore(c);
    }
  }

  openAlerts(): AlertChange[] {
    return this.slots.flatMap((s) => s.openChange() ?? []);
  }

  succeed(prev: DiagnosingRunEngine): void {
    this.restoreOpen(prev.openAlerts());
    // The symptoms are the rules' history, not their settings: the verdict goes on as it was.
    if (prev instanceof Engine) this.diagnoser = prev.diagnoser;
  }

  diagnoses(): Diagnosis[] {
    return this.diagnoser.diagnoses(this.ctx.facts(this.ended));
  }
}

export function createRunEngine(opts: RunEngineOptions = {}): DiagnosingRunEngine {
  return new Engine(opts);
}
