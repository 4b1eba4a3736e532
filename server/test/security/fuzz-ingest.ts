/**
 * The ingest side of the fuzz test: mutated and garbage cases for the ingest socket, and a driver
 * that sends them, keeps seqs and steps plausible, and models what the server must have stored.
 */
import fc from 'fast-check';
import { EndMsg, EvalMsg, Hello, HistMsg, HistsMsg, ModelMsg, StepsMsg } from '@gradwatch/shared';
import { arbOf, garbage, mutate, mutation, type Json, type Mutation } from './fuzz-arbitraries.js';
import { checkError, Conn, type Reply } from './fuzz-conn.js';

export const ADMIN = 'fuzz-admin-token-0123456789abcdef';

export interface RunModel {
  steps: Set<number>;
  scalars: Map<string, Set<number>>;
  evals: Map<string, Set<number>>;
  hists: Set<string>;
  layers: Set<string>;
}
export const newRun = (): RunModel => ({ steps: new Set(), scalars: new Map(), evals: new Map(), hists: new Set(), layers: new Set() });

export function rewindModel(r: RunModel, to: number): void {
  for (const s of [...r.steps]) if (s >= to) r.steps.delete(s);
  for (const m of [...r.scalars.values(), ...r.evals.values()]) for (const s of [...m]) if (s >= to) m.delete(s);
  for (const h of [...r.hists]) if (Number(h.split('|')[0]) >= to) r.hists.delete(h);
}

export function record(r: RunModel, msg: Record<string, Json>): void {
  const add = (m: Map<string, Set<number>>, name: string, step: number) => {
    let s = m.get(name);
    if (!s) m.set(name, (s = new Set()));
    s.add(step);
  };
  if (msg.type === 'steps') {
    for (const it of msg.items as Array<Record<string, Json>>) {
      const step = it.step as number;
      r.steps.add(step);
      for (const k of Object.keys(it.scalars as object)) add(r.scalars, k, step);
      for (const l of Object.keys((it.layers as object | undefined) ?? {})) r.layers.add(l);
    }
  } else if (msg.type === 'eval') {
    for (const k of Object.keys(msg.metrics as object)) add(r.evals, `eval/${String(msg.split)}/${k}`, msg.step as number);
  } else if (msg.type === 'hist') {
    r.hists.add(`${String(msg.step)}|${String(msg.layer)}|${String(msg.of)}`);
  } else if (msg.type === 'hists') {
    for (const h of msg.items as Array<Record<string, Json>>) r.hists.add(`${String(h.step)}|${String(h.layer)}|${String(h.of)}`);
  }
}


export type IngestCase = { msg: Json; type: string; mutation: Mutation; fixSteps: boolean } | { garbage: { text?: string; binary?: Uint8Array } };

export const ingestCase: fc.Arbitrary<IngestCase> = fc.oneof(
  { weight: 30, arbitrary: fc.record({ type: fc.constant('steps'), msg: arbOf(StepsMsg as never), mutation, fixSteps: fc.boolean() }) },
  { weight: 10, arbitrary: fc.record({ type: fc.constant('eval'), msg: arbOf(EvalMsg as never), mutation, fixSteps: fc.boolean() }) },
  { weight: 10, arbitrary: fc.record({ type: fc.constant('hist'), msg: arbOf(HistMsg as never), mutation, fixSteps: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ type: fc.constant('hists'), msg: arbOf(HistsMsg as never), mutation, fixSteps: fc.boolean() }) },
  { weight: 10, arbitrary: fc.record({ type: fc.constant('model'), msg: arbOf(ModelMsg as never), mutation, fixSteps: fc.constant(false) }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('end'), msg: arbOf(EndMsg as never), mutation, fixSteps: fc.constant(false) }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('hello'), msg: arbOf(Hello as never), mutation, fixSteps: fc.constant(false) }) },
  { weight: 10, arbitrary: garbage.map((g) => ({ garbage: g })) },
);

export class IngestDriver {
  conn!: Conn;
  run = '';
  nextSeq = 1;
  lastStep = -1;
  readonly models = new Map<string, RunModel>();
  sent = 0;
  runs = 0;
  /** runIds: the runs this driver says hello to in turn (default: three of its own). */
  constructor(private readonly url: string, readonly prefix: string, private readonly runIds?: readonly string[]) {}

  model(run = this.run): RunModel {
    let m = this.models.get(run);
    if (!m) this.models.set(run, (m = newRun()));
    return m;
  }

  async hello(): Promise<void> {
    if (!this.conn || this.conn.closeCode !== null) this.conn = await Conn.open(`${this.url}/v1/ingest`, ['ack', 'error', 'welcome']);
    this.run = this.runIds ? (this.runIds[this.runs++ % this.runIds.length] as string) : `${this.prefix}-${this.runs++ % 3}`;
    this.conn.send(JSON.stringify({ type: 'hello', protocol: 1, token: ADMIN, run: { id: this.run, project: 'fuzz', name: this.run } }));
    const w = await this.conn.next();
    if (w.type !== 'welcome') throw new Error(`hello refused: ${JSON.stringify(w)}`);
    this.nextSeq = (w as Reply).lastSeq as number + 1;
    this.model();
    this.lastStep = Math.max(-1, ...this.model().steps);
  }

  /** A fresh socket: the last case may have left the old one closing (a bad protocol, a bad token). */
  async reopen(): Promise<void> {
    this.conn?.close();
    this.conn = await Conn.open(`${this.url}/v1/ingest`, ['ack', 'error', 'welcome']);
  }

  /** hello with rewindTo on the current run: the model forgets steps >= to. */
  async rewind(to: number): Promise<void> {
    await this.reopen();
    this.conn.send(JSON.stringify({ type: 'hello', protocol: 1, token: ADMIN, rewindTo: to, run: { id: this.run, project: 'fuzz', name: this.run } }));
    const w = await this.conn.next();
    if (w.type !== 'welcome') throw new Error(`rewind refused: ${JSON.stringify(w)}`);
    const model = this.model();
    rewindModel(model, to);
    this.nextSeq = (w as Reply).lastSeq as number + 1;
    this.lastStep = Math.max(-1, ...model.steps, to - 1);
  }

  readonly history: string[] = [];
  private note(s: string): void {
    this.history.push(s.slice(0, 160));
    if (this.history.length > 6) this.history.shift();
  }

  static readonly times = new Map<string, [number, number]>();
  async one(c: IngestCase): Promise<void> {
    const t = performance.now();
    try {
      await this.oneInner(c);
      const k = 'garbage' in c ? 'garbage' : `${c.type}/${c.mutation.kind}`;
      const e = IngestDriver.times.get(k) ?? [0, 0];
      IngestDriver.times.set(k, [e[0] + 1, e[1] + performance.now() - t]);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n  recent (${this.prefix}): ${this.history.join('\n    ')}`);
    }
  }

  private async oneInner(c: IngestCase): Promise<void> {
    if (!this.conn || this.conn.closeCode !== null) await this.hello();
    this.sent++;
    let sentMsg: Record<string, Json> | null = null;
    let seqMutated = false;
    if ('garbage' in c) {
      this.conn.send(c.garbage.binary ?? (c.garbage.text as string));
    } else {
      const base = structuredClone(c.msg) as Record<string, Json>;
      if (c.type === 'hello') {
        base.token = ADMIN;
        const run = base.run as Record<string, Json>;
        run.id = `${this.prefix}-h${String(run.id).slice(0, 20)}`;
        run.project = 'fuzz';
      } else {
        base.seq = this.nextSeq;
        if (c.fixSteps && c.type === 'steps') {
          for (const it of base.items as Array<Record<string, Json>>) it.step = ++this.lastStep;
        }
        const fixEdges = (h: Record<string, Json>) => void (h.edges = Array.from({ length: (h.counts as number[]).length + 1 }, (_, i) => i));
        if (c.fixSteps && c.type === 'hist') fixEdges(base);
        if (c.fixSteps && c.type === 'hists') for (const h of base.items as Array<Record<string, Json>>) fixEdges(h);
      }
      let msg = mutate(base, c.mutation) as Record<string, Json>;
      if (c.mutation.kind === 'seq' && msg && typeof msg === 'object') {
        seqMutated = true;
        const d = c.mutation.delta;
        msg = { ...msg };
        if (d === 'missing') delete msg.seq;
        else msg.seq = d === 'string' ? String(this.nextSeq) : d === 'float' ? this.nextSeq + 0.5 : d === 'huge' ? 1e20 : this.nextSeq + d;
      }
      sentMsg = msg;
      const text = JSON.stringify(msg) ?? 'null';
      this.conn.send(text);
    }
    const r = await this.conn.next();
    this.note(`sent ${'garbage' in c ? 'garbage' : JSON.stringify(sentMsg)} (nextSeq ${this.nextSeq}) → ${JSON.stringify(r)}`);
    if (r.type === 'closed') {
      // The server closes only after saying why, and only for these reasons.
      const why = this.conn.lastError;
      if (!why || !['frame_too_large', 'protocol', 'unauthorized', 'forbidden'].includes(String(why.code))) {
        throw new Error(`socket closed (${(r as { code: number }).code}) without a reason after ${JSON.stringify(sentMsg ?? c).slice(0, 300)}`);
      }
      return;
    }
    const reply = r as Reply;
    if (reply.type === 'error') checkError(reply, 'ingest');
    if (reply.type === 'welcome') {
      // A (mutated) hello that was valid: the connection now streams that run.
      const m = sentMsg as { rewindTo?: unknown; run: { id: string } };
      this.run = m.run.id;
      const model = this.model();
      if (typeof m.rewindTo === 'number') rewindModel(model, m.rewindTo);
      this.nextSeq = (reply.lastSeq as number) + 1;
      this.lastStep = Math.max(-1, ...model.steps, ...(typeof m.rewindTo === 'number' ? [m.rewindTo - 1] : []));
      return;
    }
    if (sentMsg && reply.seq === this.nextSeq && typeof sentMsg.seq === 'number' && sentMsg.seq === this.nextSeq) {
      if (reply.type === 'ack') {
        record(this.model(), sentMsg);
        if (sentMsg.type === 'steps') this.lastStep = Math.max(this.lastStep, ...(sentMsg.items as Array<{ step: number }>).map((i) => i.step));
        this.nextSeq++;
      } else if (reply.code !== 'retry' && reply.code !== 'gap') {
        this.nextSeq++; // rejected for its content: the seq is consumed
      }
    } else if (reply.type === 'ack' && !seqMutated && sentMsg && (reply.seq ?? 0) >= this.nextSeq) {
      throw new Error(`ack for a seq never sent: ${JSON.stringify(reply)} after ${JSON.stringify(sentMsg).slice(0, 200)}`);
    }
  }
}
