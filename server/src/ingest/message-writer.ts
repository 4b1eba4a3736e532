import { decodeTree, RESERVED_PREFIXES, topVerdict, toWireJson, type EndMsg, type EvalMsg, type HistItem, type ModelMsg, type StepsMsg, type Diagnosis } from '@gradwatch/shared';
import type { AlertLedger, RunRef } from '../alerts/alert-ledger.js';
import type { Config } from '../config.js';
import type { PointStore } from '../points/point-store.js';
import type { AlertChange, ModelView } from '../rules/types.js';
import type { RunRecords } from '../runs/run-records.js';
import { ENDED_WITH_RUN } from '../rules/engine.js';
import { decodeEval, decodeStep } from './decode.js';
import { decodePackedStep, type PackedStepsMsg } from './packed-step.js';
import { Rejection, type IngestListener, type Pending } from './pending.js';

/**
 * Writes one message inside the ingest transaction: the checks that need run state (step order,
 * limits, reserved names), then the points through the point store, and the rules' verdicts.
 * Throws a Rejection before writing anything when the message cannot be stored.
 */
export class MessageWriter {
  constructor(
    private readonly records: RunRecords,
    private readonly points: PointStore,
    private readonly ledger: AlertLedger,
    private readonly limits: Config['limits'],
    private readonly listener: Pick<IngestListener, 'wants'>,
    /** The top verdict changed, inside the transaction (webhooks queue it in their outbox). */
    private readonly onVerdict: (ref: RunRef, top: Diagnosis | null) => Promise<void> = async () => undefined,
  ) {}

  /** The rules' verdicts on this message: alerts stored, a stop when asked for, the run's diagnoses. */
  async raise(p: Pending, changes: AlertChange[], now: string): Promise<void> {
    if (changes.length === 0) return;
    const announced = await this.ledger.apply(p.session.ref, changes, now);
    (p.alerts ??= []).push(...announced);
    for (const a of announced) {
      if (a.status === 'open' && p.session.stopsOn(a.rule)) p.stop = `${a.rule}: ${a.advice}`;
    }
    // The verdict changes only with alert changes: read it then, store it when it differs.
    await this.storeVerdict(p, p.session.engine.diagnoses().map((d) => ({ ...d, runId: p.session.uid })));
  }

  private async storeVerdict(p: Pending, diagnoses: Diagnosis[]): Promise<void> {
    const json = p.session.changedDiagnoses(JSON.stringify(diagnoses));
    if (json === null) return;
    await this.records.setDiagnoses(p.session.ref.id, json);
    p.diagnoses = diagnoses;
    const top = topVerdict(diagnoses);
    if (p.session.changedTop(top)) await this.onVerdict(p.session.ref, top);
  }

  apply(p: Pending, now: string): Promise<void> {
    switch (p.msg.type) {
      case 'steps':
        return this.applySteps(p, p.msg, now);
      case 'eval':
        return this.applyEval(p, p.msg, now);
      case 'hist':
        return this.applyHists(p, [p.msg], now);
      case 'hists':
        return this.checkItems(p.msg.items.length).applyHists(p, p.msg.items, now, 'items/');
      case 'model':
        return this.applyModel(p, p.msg, now);
      case 'end':
        return this.applyEnd(p, p.msg, now);
      case 'resend':
      case 'rejected':
        return Promise.resolve();
    }
  }

  /**
   * Data on an ended run reopens it: called once the message's checks passed (a rejected message
   * reopens nothing) and before its rules run, so they judge a live run, after its configuration
   * is judged again. A model message is judged with itself: no verdict on the model it replaces.
   * Returns whether the run was reopened.
   */
  private async goOn(p: Pending, now: string, model?: ModelView): Promise<boolean> {
    if (!p.session.ended) return false;
    await this.records.reopen(p.session.ref.id);
    p.session.setEnded(false);
    await this.raise(p, p.session.engine.onReopen(model), now);
    return true;
  }

  private checkItems(n: number): this {
    if (n > this.limits.maxItemsPerMessage) {
      throw new Rejection('limit', `${n} items exceed maxItemsPerMessage=${this.limits.maxItemsPerMessage}`);
    }
    return this;
  }

  private checkSteps(p: Pending, msg: StepsMsg | PackedStepsMsg): void {
    const lim = this.limits;
    this.checkItems(msg.items.length);
    let prev = p.session.lastStep;
    for (const item of msg.items) {
      if (prev !== null && item.step <= prev) {
        throw new Rejection('step_order', `step ${item.step} does not follow step ${prev}: steps must increase within a run`);
      }
      prev = item.step;
      const packed = 'packed' in item;
      const nLayers = packed ? item.layerNames.length : item.layers ? Object.keys(item.layers).length : 0;
      if (nLayers > lim.maxLayers) throw new Rejection('limit', `${nLayers} layers exceed maxLayers=${lim.maxLayers}`);
      for (const k of packed ? item.scalarNames : Object.keys(item.scalars)) {
        if (RESERVED_PREFIXES.some((pre) => k.startsWith(pre))) {
          throw new Rejection('bad_message', `scalar "${k}" uses a reserved prefix (${RESERVED_PREFIXES.join(', ')})`);
        }
      }
    }
  }

  private async checkSeriesLimit(runId: number, fresh: number): Promise<void> {
    const total = (await this.points.seriesCount(runId)) + fresh;
    if (total > this.limits.maxSeriesPerRun) {
      throw new Rejection('limit', `run would have ${total} series, over maxSeriesPerRun=${this.limits.maxSeriesPerRun}`);
    }
  }

  private async applySteps(p: Pending, msg: StepsMsg | PackedStepsMsg, now: string): Promise<void> {
    const s = p.session;
    this.checkSteps(p, msg);
    const decoded = msg.items.map((item) => ('packed' in item ? decodePackedStep(item, s.order) : decodeStep(item, s.order)));
    let fresh = 0;
    for (const d of decoded) fresh += await this.points.countNew(s.ref.id, d.names);
    await this.checkSeriesLimit(s.ref.id, fresh);
    await this.goOn(p, now);
    await this.points.appendSteps(
      s.ref.id,
      decoded.map((d, i) => {
        const item = msg.items[i] as (typeof msg.items)[number];
        return { step: item.step, time: item.time, epoch: item.epoch, examples: item.examples, names: d.names, values: d.values };
      }),
    );
    const wantsLive = this.listener.wants(s.uid);
    for (const d of decoded) {
      s.advanceStep(d.view.step);
      if (wantsLive) (p.live ??= []).push({ step: d.view.step, names: d.names, values: d.values });
      await this.raise(p, s.engine.onStep(d.view), now);
    }
  }

  private async applyEval(p: Pending, msg: EvalMsg, now: string): Promise<void> {
    const s = p.session;
    const d = decodeEval(msg);
    await this.checkSeriesLimit(s.ref.id, await this.points.countNew(s.ref.id, d.names));
    await this.goOn(p, now);
    await this.points.appendEval(s.ref.id, msg.step, d.names, d.values);
    if (this.listener.wants(s.uid)) p.live = [{ step: msg.step, names: d.names, values: d.values }];
    await this.raise(p, s.engine.onEval(d.view), now);
  }

  private async applyHists(p: Pending, items: readonly HistItem[], now: string, where?: string): Promise<void> {
    // Every item is checked before any is written: a bad one rejects the message whole.
    items.forEach((h, i) => checkHist(h, where === undefined ? '' : `${where}${i}: `));
    await this.goOn(p, now);
    await this.points.appendHists(p.session.ref.id, items.map((h) => ({ step: h.step, layer: h.layer, of: h.of, edges: h.edges, counts: h.counts })));
  }

  private async applyModel(p: Pending, msg: ModelMsg, now: string): Promise<void> {
    if (msg.layers.length > this.limits.maxLayers) {
      throw new Rejection('limit', `${msg.layers.length} layers exceed maxLayers=${this.limits.maxLayers}`);
    }
    const names = new Set(msg.layers.map((l) => l.name));
    if (names.size !== msg.layers.length) throw new Rejection('bad_message', 'layer names must be unique');
    const model: ModelView = { layers: msg.layers };
    if (msg.loss !== undefined) model.loss = msg.loss;
    if (msg.optimizer !== undefined) model.optimizer = decodeTree(msg.optimizer) as NonNullable<ModelView['optimizer']>;
    await this.records.setModel(p.session.ref.id, toWireJson({ layers: msg.layers, loss: msg.loss, optimizer: msg.optimizer }));
    p.session.setModel(model);
    if (!(await this.goOn(p, now, model))) await this.raise(p, p.session.engine.onModel(model), now);
  }

  private async applyEnd(p: Pending, msg: EndMsg, now: string): Promise<void> {
    await this.records.end(p.session.ref.id, msg.status, p.session.lastStep, now);
    p.session.setEnded(true);
    // Open alerts close "ended with the run" (still queryable), and the verdict with them.
    await this.raise(p, p.session.engine.onEnd(msg.status), now);
    // So do those the engine never took up: of a rule since disabled, or a rule's second open one.
    const rest = await this.ledger.resolveOpen(p.session.ref, ENDED_WITH_RUN, now);
    if (rest.announced.length === 0) return;
    (p.alerts ??= []).push(...rest.announced);
    // The verdict, which recalled them open, hears them close.
    p.session.engine.recall(rest.changes);
    await this.storeVerdict(p, p.session.engine.diagnoses().map((d) => ({ ...d, runId: p.session.uid })));
  }
}

/** What the schema cannot say of a histogram: the edges bound the counts, in order. */
function checkHist(h: HistItem, where: string): void {
  if (h.edges.length !== h.counts.length + 1) {
    throw new Rejection('bad_message', `${where}a histogram needs one more edge than counts (got ${h.edges.length} edges, ${h.counts.length} counts)`);
  }
  // The schema already refuses NaN and ±Infinity (a MessagePack float may carry them).
  for (let i = 1; i < h.edges.length; i++) {
    if (!((h.edges[i] as number) >= (h.edges[i - 1] as number))) {
      throw new Rejection('bad_message', `${where}histogram edges must be finite and non-decreasing (edge ${i} is below edge ${i - 1})`);
    }
  }
}
