/**
 * One rule's alert in one run: the lifecycle every rule shares.
 *
 * One alert per (run, rule) and episode. A rule that fires on several layers for one cause
 * does not open one alert per layer: the alert lists the layers (`layers`, forward order) and
 * keeps the layer it first fired on as its `layer`, so the alert's key stays stable for the
 * whole episode. An episode ends when every layer has been clear for `clearAfter`
 * evaluations AND no re-fire came for `episodeGap` steps after that (hysteresis): a rule that
 * flaps on a noisy run continues its episode instead of opening a new alert each time.
 * Static rules (configuration checks) resolve at once when a re-check no longer finds them.
 *
 * Advice is always `adviceFor(evidence)` of the evidence the same change carries, so an update
 * can never leave advice that contradicts its evidence.
 */
import type { Severity } from '@gradwatch/shared';
import type { RuleDef, Sink } from './rule.js';
import type { AlertChange } from './types.js';

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

interface LayerHit {
  severity: Severity;
  evidence: Record<string, unknown>;
  clear: number;
  lastStep: number;
}

interface Episode {
  /** The layer the episode first fired on ('' for run-level alerts): the alert's stable key. */
  key: string;
  firstStep: number;
  lastStep: number;
  lastEmit: number;
  /** The step time (seconds) of the last change emitted, when steps carry one. */
  lastEmitTime: number | undefined;
  severity: Severity;
  evidence: Record<string, unknown>;
  advice: string;
  /** Keys whose condition currently holds (not yet clear for clearAfter evaluations). */
  active: Map<string, LayerHit>;
  /** Every layer that fired in this episode. */
  layers: Set<string>;
  /** `layers` in forward order, sorted again only when a layer joins: rules fire on every step. */
  sorted: string[] | null;
  /** Step at which the last active key cleared; the episode ends episodeGap steps later. */
  coolingSince: number | undefined;
  /**
   * Restored, and not fired since: the rule's windows and baselines are new, so its clears say
   * only that it has not seen enough yet, and are not counted until it fires again.
   */
  held: boolean;
}

export interface SlotHost {
  readonly step: number;
  /** The current step's own time (seconds), if it carries one. */
  readonly time: number | undefined;
  readonly updateEvery: number;
  readonly updateSeconds: number;
  readonly episodeGap: number;
  /** Forward position of a layer, to list an alert's layers in model order. */
  layerOrder(name: string): number;
  emit(c: AlertChange): void;
  cooling(slot: AlertSlot, on: boolean): void;
}

export class AlertSlot implements Sink {
  private ep: Episode | undefined;
  /** Keys fired during a static re-check; null outside one. */
  fired: Set<string> | null = null;
  disabled = false;

  constructor(
    readonly def: RuleDef,
    readonly inst: ReturnType<RuleDef['create']>,
    readonly stop: boolean,
    private readonly host: SlotHost,
  ) {}

  get isOpen(): boolean {
    return this.ep !== undefined;
  }

  fire(layer: string | undefined, evidence: Record<string, unknown>, severity?: Severity): void {
    const key = layer ?? '';
    const sev = severity ?? this.def.severity;
    const step = this.host.step;
    this.fired?.add(key);
    let ep = this.ep;
    const isNew = ep === undefined;
    if (!ep) {
      ep = this.ep = {
        key, firstStep: step, lastStep: step, lastEmit: step, lastEmitTime: this.host.time, severity: sev, evidence, advice: '',
        active: new Map(), layers: new Set(), sorted: null, coolingSince: undefined, held: false,
      };
    }
    ep.held = false;
    if (ep.coolingSince !== undefined) {
      ep.coolingSince = undefined;
      this.host.cooling(this, false);
    }
    const grew = key !== '' && !ep.layers.has(key);
    if (grew) {
      ep.layers.add(key);
      ep.sorted = null;
    }
    ep.active.set(key, { severity: sev, evidence, clear: 0, lastStep: step });
    ep.lastStep = step;
    const prevSev = ep.severity;
    const prevAdvice = ep.advice;
    this.compose(ep, key);
    if (isNew) {
      this.host.emit(this.change('open', ep, step));
      return;
    }
    if (grew || ep.severity !== prevSev || ep.advice !== prevAdvice || this.refreshDue(ep, step)) {
      ep.lastEmit = step;
      ep.lastEmitTime = this.host.time;
      this.host.emit(this.change('update', ep, step));
    }
  }

  /**
   * An update that only refreshes evidence: every updateEvery steps, and no more than once per
   * updateSeconds of the steps' own time. A fast run (thousands of steps a second) would
   * otherwise store, diagnose and broadcast its open alerts hundreds of times a second.
   */
  private refreshDue(ep: Episode, step: number): boolean {
    if (step - ep.lastEmit < this.host.updateEvery) return false;
    const t = this.host.time;
    const last = ep.lastEmitTime;
    // Without times, or with a clock that went back (a resumed run on another machine): by steps.
    return t === undefined || last === undefined || t < last || t - last >= this.host.updateSeconds;
  }

  clear(layer?: string): void {
    const ep = this.ep;
    const key = layer ?? '';
    const hit = ep?.active.get(key);
    if (!ep || !hit || ep.held) return;
    if (++hit.clear < this.def.clearAfter) return;
    ep.active.delete(key);
    if (ep.active.size > 0) {
      this.compose(ep, undefined);
      return;
    }
    ep.coolingSince = this.host.step;
    this.host.cooling(this, true);
  }

  /**
   * Takes up an episode that was open before this slot existed (a restart, a release, new rule
   * settings), emitting nothing: a re-fire on any layer continues it, under its own key. The
   * rule's state is new, so the episode holds until the rule fires again (its clears before
   * that only say it has not seen enough); from then on it resolves as a live one does. Which
   * layers still held is not known, so all are taken as holding until the rule finds them clear.
   * A rule that never fires again leaves it to the run's end, as before it was restored.
   */
  restore(a: AlertChange): void {
    const key = a.layer ?? '';
    const layers = new Set(a.layers ?? []);
    const hit = (): LayerHit => ({ severity: a.severity, evidence: a.evidence, clear: 0, lastStep: a.lastStep ?? a.step });
    const active = new Map<string, LayerHit>();
    for (const k of layers.size > 0 ? layers : [key]) active.set(k, hit());
    if (this.ep?.coolingSince !== undefined) this.host.cooling(this, false);
    this.ep = {
      key, firstStep: a.firstStep, lastStep: a.lastStep ?? a.step, lastEmit: a.lastStep ?? a.step, lastEmitTime: undefined,
      severity: a.severity, evidence: a.evidence, advice: a.advice, active, layers, sorted: a.layers ? [...a.layers] : null, coolingSince: undefined,
      held: true,
    };
  }

  /** The open episode as the change that would open it now (for a successor engine), if any. */
  openChange(): AlertChange | undefined {
    const ep = this.ep;
    if (!ep) return undefined;
    const c = this.change('open', ep, ep.firstStep);
    c.lastStep = ep.lastStep;
    delete c.stop;
    return c;
  }

  /** Static rules: whatever the re-check did not fire is gone now (the configuration changed). */
  settleRecheck(): void {
    const ep = this.ep;
    const fired = this.fired;
    this.fired = null;
    if (!ep || !fired) return;
    for (const key of [...ep.active.keys()]) if (!fired.has(key)) ep.active.delete(key);
    if (ep.active.size === 0) this.resolve();
    else this.compose(ep, undefined);
  }

  /** Ends a cooling episode once episodeGap steps passed without a re-fire. */
  tick(step: number): void {
    const ep = this.ep;
    if (ep?.coolingSince !== undefined && step - ep.coolingSince >= this.host.episodeGap) this.resolve();
  }

  resolve(reason?: string): void {
    const ep = this.ep;
    if (!ep) return;
    if (ep.coolingSince !== undefined) this.host.cooling(this, false);
    this.ep = undefined;
    const c = this.change('resolve', ep, this.host.step);
    c.lastStep = ep.lastStep;
    if (reason) c.reason = reason;
    this.host.emit(c);
  }

  /** The alert's severity, evidence and advice from its active keys (latest fire first). */
  private compose(ep: Episode, latest: string | undefined): void {
    let worst: LayerHit | undefined;
    for (const h of ep.active.values()) if (!worst || RANK[h.severity] > RANK[worst.severity]) worst = h;
    const lead = (latest !== undefined ? ep.active.get(latest) : undefined) ?? worst;
    if (!lead || !worst) return;
    ep.severity = worst.severity;
    const evidence = { ...lead.evidence };
    if (ep.layers.size > 0) {
      evidence.layers = this.layerList(ep);
      if (latest) evidence.layer = latest;
    }
    ep.evidence = evidence;
    ep.advice = this.def.adviceFor ? this.def.adviceFor(evidence) : this.def.advice;
  }

  /** Shared by the changes of an episode until a layer joins; never changed once handed out. */
  private layerList(ep: Episode): string[] {
    ep.sorted ??= [...ep.layers].sort((a, b) => this.host.layerOrder(a) - this.host.layerOrder(b));
    return ep.sorted;
  }

  private change(action: AlertChange['action'], ep: Episode, step: number): AlertChange {
    const c: AlertChange = {
      action, rule: this.def.id, section: this.def.section, severity: ep.severity, step,
      evidence: ep.evidence, advice: ep.advice, firstStep: ep.firstStep,
    };
    if (ep.key !== '') c.layer = ep.key;
    if (ep.layers.size > 0) c.layers = this.layerList(ep);
    if (action === 'open' && this.stop) c.stop = true;
    if (action !== 'resolve') c.lastStep = step;
    return c;
  }
}
