import { RESERVED_PREFIXES, type Alert, type EndMsg, type ErrorCode, type EvalMsg, type HistMsg, type ModelMsg, type SeqMsg, type StepsMsg } from '@gradwatch/shared';
import type { AlertsService, RunRef } from '../alerts/alerts.service.js';
import type { Config } from '../config.js';
import type { AlertChange, ModelView } from '../rules/types.js';
import { newRow, rowToBuffer, setValue } from '../storage/packed.js';
import type { PointsRepo } from '../storage/points.repo.js';
import { CHUNK_ROWS, type PointStore } from '../storage/points.service.js';
import type { RunsRepo } from '../storage/runs.repo.js';
import { decodeEval, decodeStep } from './decode.js';
import type { IngestListener } from './ingest.service.js';
import type { Peer, RunState } from './run-state.js';

/** A message refused for its content: answered with this code, nothing of it stored. */
export class Rejection extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

/** One queued message and what its commit will announce. */
export interface Pending {
  peer: Peer;
  state: RunState;
  /** resend: a seq accepted but not yet committed, acked once it is; rejected: consumed only. */
  msg: SeqMsg | { type: 'resend' | 'rejected'; seq: number };
  error?: Rejection;
  live?: Array<{ step: number; names: string[]; values: number[] }>;
  alerts?: Alert[];
  stop?: string;
}

export function runRef(s: RunState): RunRef {
  return { id: s.id, uid: s.uid, projectId: s.projectId, project: s.project };
}

/**
 * Writes one message inside the ingest transaction: the checks that need run state (step order,
 * limits, reserved names), the points, derived series and histograms, and the rules' verdicts.
 * Throws a Rejection before writing anything when the message cannot be stored.
 */
export class MessageWriter {
  constructor(
    private readonly runs: RunsRepo,
    private readonly pointsRepo: PointsRepo,
    private readonly points: PointStore,
    private readonly alertsService: AlertsService,
    private readonly limits: Config['limits'],
    private readonly listener: Pick<IngestListener, 'wants'>,
  ) {}

  private raise(p: Pending, changes: AlertChange[], now: string): void {
    if (changes.length === 0) return;
    const announced = this.alertsService.apply(runRef(p.state), changes, now);
    (p.alerts ??= []).push(...announced);
    for (const a of announced) {
      if (a.status === 'open' && p.state.ruleSettings[a.rule]?.stop) {
        p.stop = `${a.rule}: ${a.advice}`;
      }
    }
  }

  apply(p: Pending, now: string): void {
    switch (p.msg.type) {
      case 'steps':
        return this.applySteps(p, p.msg, now);
      case 'eval':
        return this.applyEval(p, p.msg, now);
      case 'hist':
        return this.applyHist(p, p.msg);
      case 'model':
        return this.applyModel(p, p.msg, now);
      case 'end':
        return this.applyEnd(p, p.msg, now);
      case 'resend':
      case 'rejected':
        return;
    }
  }

  private applySteps(p: Pending, msg: StepsMsg, now: string): void {
    const s = p.state;
    const lim = this.limits;
    if (msg.items.length > lim.maxItemsPerMessage) {
      throw new Rejection('limit', `${msg.items.length} items exceed maxItemsPerMessage=${lim.maxItemsPerMessage}`);
    }
    let prev = s.lastStep;
    for (const item of msg.items) {
      if (prev !== null && item.step <= prev) {
        throw new Rejection('step_order', `step ${item.step} does not follow step ${prev}: steps must increase within a run`);
      }
      prev = item.step;
      const nLayers = item.layers ? Object.keys(item.layers).length : 0;
      if (nLayers > lim.maxLayers) throw new Rejection('limit', `${nLayers} layers exceed maxLayers=${lim.maxLayers}`);
      for (const k of Object.keys(item.scalars)) {
        if (RESERVED_PREFIXES.some((pre) => k.startsWith(pre))) {
          throw new Rejection('bad_message', `scalar "${k}" uses a reserved prefix (${RESERVED_PREFIXES.join(', ')})`);
        }
      }
    }
    const decoded = msg.items.map((item) => decodeStep(item, s.order));
    const fresh = decoded.reduce((n, d) => n + s.catalog.countNew(d.names), 0);
    if (s.catalog.size + fresh > lim.maxSeriesPerRun) {
      throw new Rejection('limit', `run would have ${s.catalog.size + fresh} series, over maxSeriesPerRun=${lim.maxSeriesPerRun}`);
    }
    const wantsLive = this.listener.wants(s.uid);
    for (let i = 0; i < decoded.length; i++) {
      const d = decoded[i];
      const item = msg.items[i];
      if (!d || !item) continue;
      const slots = d.names.map((n) => s.catalog.ensure(this.pointsRepo, s.id, n, true));
      const width = slots.reduce((m, r) => Math.max(m, r.slot + 1), 0);
      const row = newRow(width);
      for (let j = 0; j < slots.length; j++) {
        const sr = slots[j] as (typeof slots)[number];
        const v = d.values[j] as number;
        setValue(row.f64, row.u32, sr.slot, v);
        if (!Number.isFinite(v) && sr.first_nonfinite_step === null) {
          sr.first_nonfinite_step = item.step;
          this.pointsRepo.markNonFinite(sr.id, item.step);
        }
      }
      this.pointsRepo.insertStep(s.id, item.step, item.time ?? null, item.epoch ?? null, item.examples ?? null, rowToBuffer(row.f64, row.u32));
      s.lastStep = item.step;
      if (++s.tailCount >= CHUNK_ROWS) {
        this.points.seal(s.id, s.catalog.idBySlot);
        s.tailCount = 0;
      }
      if (wantsLive) (p.live ??= []).push({ step: item.step, names: d.names, values: d.values });
      this.raise(p, s.engine.onStep(d.view), now);
    }
  }

  private applyEval(p: Pending, msg: EvalMsg, now: string): void {
    const s = p.state;
    const d = decodeEval(msg);
    if (s.catalog.size + s.catalog.countNew(d.names) > this.limits.maxSeriesPerRun) {
      throw new Rejection('limit', `run would exceed maxSeriesPerRun=${this.limits.maxSeriesPerRun}`);
    }
    for (let j = 0; j < d.names.length; j++) {
      const sr = s.catalog.ensure(this.pointsRepo, s.id, d.names[j] as string, false);
      const v = d.values[j] as number;
      this.pointsRepo.upsertEval(sr.id, msg.step, v);
      if (!Number.isFinite(v) && sr.first_nonfinite_step === null) {
        sr.first_nonfinite_step = msg.step;
        this.pointsRepo.markNonFinite(sr.id, msg.step);
      }
    }
    if (this.listener.wants(s.uid)) p.live = [{ step: msg.step, names: d.names, values: d.values }];
    this.raise(p, s.engine.onEval(d.view), now);
  }

  private applyHist(p: Pending, msg: HistMsg): void {
    if (msg.edges.length !== msg.counts.length + 1) {
      throw new Rejection('bad_message', `a histogram needs one more edge than counts (got ${msg.edges.length} edges, ${msg.counts.length} counts)`);
    }
    for (let i = 1; i < msg.edges.length; i++) {
      if (!((msg.edges[i] as number) >= (msg.edges[i - 1] as number))) {
        throw new Rejection('bad_message', 'histogram edges must be finite and non-decreasing');
      }
    }
    this.pointsRepo.insertHist(p.state.id, msg.step, msg.layer, msg.of, msg.edges, msg.counts);
  }

  private applyModel(p: Pending, msg: ModelMsg, now: string): void {
    if (msg.layers.length > this.limits.maxLayers) {
      throw new Rejection('limit', `${msg.layers.length} layers exceed maxLayers=${this.limits.maxLayers}`);
    }
    const names = new Set(msg.layers.map((l) => l.name));
    if (names.size !== msg.layers.length) throw new Rejection('bad_message', 'layer names must be unique');
    const model: ModelView = { layers: msg.layers };
    if (msg.loss !== undefined) model.loss = msg.loss;
    if (msg.optimizer !== undefined) {
      model.optimizer = JSON.parse(JSON.stringify(msg.optimizer), (_k, v: unknown) =>
        v === 'NaN' ? Number.NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v,
      ) as NonNullable<ModelView['optimizer']>;
    }
    this.runs.update(p.state.id, { model: JSON.stringify({ layers: msg.layers, loss: msg.loss, optimizer: msg.optimizer }) });
    p.state.setModel(model);
    this.raise(p, p.state.engine.onModel(model), now);
  }

  private applyEnd(p: Pending, msg: EndMsg, now: string): void {
    this.runs.update(p.state.id, { status: msg.status, endedAt: now });
    this.runs.addEvent(p.state.id, 'end', p.state.lastStep, { status: msg.status }, now);
  }
}
