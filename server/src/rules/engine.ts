/**
 * The per-run engine: feeds each message to the rules and turns what they report into alert
 * transitions. It owns the lifecycle so every rule behaves the same way:
 *   open     the first time a rule fires for a (rule, layer) key;
 *   update   while it keeps firing — throttled to one per `updateEvery` steps, but always
 *            when the severity changes, so the alert service can fan that out;
 *   resolve  after the rule reported the key clear `clearAfter` evaluations in a row (static
 *            rules: as soon as a re-check no longer finds it).
 * Pure and synchronous: no clock, no I/O, state bounded by the number of rules and layers.
 */
import type { RunInfo, Severity } from '@gradwatch/shared';
import { RunContext } from './context.js';
import type { RuleDef, RuleInstance, Sink } from './rule.js';
import { RULE_DEFS } from './registry.js';
import type { AlertChange, EvalView, ModelView, RuleSettings, RunEngine, StepView } from './types.js';

export interface RunEngineOptions {
  /** Per-rule overrides, keyed by rule id (validate with validateRuleSettings first). */
  settings?: Record<string, Partial<RuleSettings>>;
  /** Emit an `update` for an open alert at most once per this many steps (default 10). */
  updateEvery?: number;
  /** Called when a rule throws; that rule is then switched off for this run. */
  onError?: (rule: string, err: unknown) => void;
}

interface AlertState {
  severity: Severity;
  advice: string;
  evidence: Record<string, unknown>;
  lastStep: number;
  lastEmit: number;
  clearCount: number;
}

class Slot implements Sink {
  readonly open = new Map<string, AlertState>();
  /** Keys fired during a static re-check; null outside one. */
  fired: Set<string> | null = null;
  disabled = false;

  constructor(
    readonly def: RuleDef,
    readonly inst: RuleInstance,
    readonly stop: boolean,
    private readonly eng: Engine,
  ) {}

  fire(layer: string | undefined, evidence: Record<string, unknown>, severity?: Severity, advice?: string): void {
    const key = layer ?? '';
    const sev = severity ?? this.def.severity;
    const adv = advice ?? this.def.advice;
    const step = this.eng.ctx.step;
    this.fired?.add(key);
    const st = this.open.get(key);
    if (!st) {
      this.open.set(key, { severity: sev, advice: adv, evidence, lastStep: step, lastEmit: step, clearCount: 0 });
      this.eng.emit(this.change('open', layer, step, sev, evidence, adv));
      return;
    }
    st.clearCount = 0;
    st.lastStep = step;
    st.evidence = evidence;
    const changed = sev !== st.severity || adv !== st.advice;
    st.severity = sev;
    st.advice = adv;
    if (changed || step - st.lastEmit >= this.eng.updateEvery) {
      st.lastEmit = step;
      this.eng.emit(this.change('update', layer, step, sev, evidence, adv));
    }
  }

  clear(layer?: string): void {
    const key = layer ?? '';
    const st = this.open.get(key);
    if (!st) return;
    if (++st.clearCount >= this.def.clearAfter) this.resolve(key, st);
  }

  resolve(key: string, st: AlertState): void {
    this.open.delete(key);
    const c = this.change('resolve', key === '' ? undefined : key, this.eng.ctx.step, st.severity, st.evidence, st.advice);
    c.lastStep = st.lastStep;
    this.eng.emit(c);
  }

  private change(
    action: AlertChange['action'],
    layer: string | undefined,
    step: number,
    severity: Severity,
    evidence: Record<string, unknown>,
    advice: string,
  ): AlertChange {
    const c: AlertChange = { action, rule: this.def.id, section: this.def.section, severity, step, evidence, advice };
    if (layer !== undefined) c.layer = layer;
    if (action === 'open' && this.stop) c.stop = true;
    if (action !== 'resolve') c.lastStep = step;
    return c;
  }
}

class Engine implements RunEngine {
  readonly ctx = new RunContext();
  readonly updateEvery: number;
  private readonly slots: Slot[] = [];
  private out: AlertChange[] = [];

  constructor(private readonly opts: RunEngineOptions) {
    this.updateEvery = Math.max(1, opts.updateEvery ?? 10);
    for (const def of RULE_DEFS) {
      const s = opts.settings?.[def.id];
      if (s?.enabled === false) continue;
      const t: Record<string, number> = { ...def.thresholds };
      for (const [k, v] of Object.entries(s?.thresholds ?? {})) {
        // Defensive: the REST layer validates, but a bad stored value must not break ingest.
        if (k in t && typeof v === 'number' && !Number.isNaN(v)) t[k] = v;
      }
      this.slots.push(new Slot(def, def.create(t), s?.stop === true, this));
    }
  }

  emit(c: AlertChange): void {
    this.out.push(c);
  }

  private take(): AlertChange[] {
    const o = this.out;
    this.out = [];
    return o;
  }

  private guard(slot: Slot, f: () => void): void {
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
      for (const [key, st] of [...slot.open]) if (!slot.fired.has(key)) slot.resolve(key, st);
      slot.fired = null;
    }
    return this.take();
  }

  onHello(run: RunInfo): AlertChange[] {
    this.ctx.setRun(run);
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
    for (const slot of this.slots) {
      const f = slot.inst.onEval;
      if (f) this.guard(slot, () => f.call(slot.inst, this.ctx, ev, slot));
    }
    this.ctx.step = trainStep;
    return this.take();
  }
}

export function createRunEngine(opts: RunEngineOptions = {}): RunEngine {
  return new Engine(opts);
}
