import { PROTOCOL_VERSION, illFormedString, toWireJson, type ErrorCode, type ModelMsg, type RunInfo, type SeqMsg } from '@gradwatch/shared';
import type { FastifyBaseLogger } from 'fastify';
import { HttpError, badRequest } from '../http-errors.js';
import type { IngestService } from '../ingest/ingest.service.js';
import { Rejection } from '../ingest/pending.js';
import type { RunSession } from '../ingest/run-session.js';
import { validators } from '../ingest/validators.js';
import type { PointsService } from '../points/points.service.js';
import type { RunsService } from '../runs/runs.service.js';
import { HttpPeer, type Answer } from './http-peer.js';
import { bareRun, mapStatic, runIdOf, type RunFields } from './map-static.js';
import { mapUpdate, type MappedUpdate } from './map-update.js';
import type { SbeMessage, Update } from './sbe-types.js';

/** The one typeID StatsListener (and SameDiffStatsListener) writes. */
const TYPE_ID = 'StatsListener';

export interface Dl4jDeps {
  ingest: IngestService;
  runs: RunsService;
  points: PointsService;
  log: FastifyBaseLogger;
}

/** What a request stored: the body of the 200 answer. */
export interface Received {
  runId: string;
  /** Protocol messages committed for this request (0: nothing new, e.g. an init sent again). */
  stored: number;
  step?: number;
  note?: string;
}

type Unsequenced = { [K in SeqMsg['type']]: Omit<Extract<SeqMsg, { type: K }>, 'seq'> }[SeqMsg['type']];

const STATUS: Partial<Record<ErrorCode, 400 | 401 | 403 | 404 | 409 | 429 | 503>> = {
  bad_message: 400, step_order: 400, limit: 400, unknown_type: 400, bad_json: 400,
  unauthorized: 401, forbidden: 403, not_found: 409, replaced: 409, rate_limited: 429,
};

function httpErrorOf(a: Exclude<Answer, { type: 'ack' }>): HttpError {
  const status = STATUS[a.code] ?? 503;
  return new HttpError(status, status === 503 ? `not stored (${a.code}): ${a.message}` : a.message);
}

/**
 * DL4J's remote router as an ingest client. Each POST becomes: a hello for the run of its
 * (session, worker), the protocol messages the DL4J message maps to, and the answer once they
 * are committed, so acks, rules, alerts and live updates are exactly those of any other client.
 * Requests of one run are handled one at a time; the run is detached after each (an HTTP sender
 * has no connection), so it reads "live" while posts arrive and goes stale when they stop.
 */
export class Dl4jService {
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(private readonly d: Dl4jDeps) {}

  receive(msg: SbeMessage, project: string): Promise<Received> {
    if (msg.typeId !== TYPE_ID) throw badRequest(`typeID "${msg.typeId.slice(0, 60)}": only StatsListener reports are understood`);
    const runId = runIdOf(msg.sessionId, msg.workerId);
    return this.serial(runId, () => this.handle(msg, runId, project));
  }

  private serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(fn);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return next;
  }

  /**
   * Everything a message maps to is built and checked before the hello, so a message that
   * cannot be stored changes nothing, not even by creating its run.
   */
  private async handle(msg: SbeMessage, runId: string, project: string): Promise<Received> {
    const stored = await this.d.runs.find(runId);
    if (msg.template === 'staticInfo') {
      const { run, model } = mapStatic(msg);
      checkAll([{ type: 'model', ...model }], 'StaticInfo');
      return this.session(runId, project, run, () => this.staticMessages(stored?.model ?? null, model));
    }
    const fields = stored ? fieldsOf(stored) : bareRun(msg.sessionId, msg.workerId);
    if (msg.template === 'storageMetaData') return this.session(runId, project, fields, () => ({ msgs: [] }));
    if (msg.iteration < 0) throw badRequest(`iterationCount ${msg.iteration} is negative`);
    const input = fields.config?.['dl4j.input'];
    const mapped = mapUpdate(msg, typeof input === 'string' ? input : 'input');
    checkAll(updateMessages(mapped, msg.iteration), 'Update');
    return this.session(runId, project, fields, (s) => this.placeUpdate(s, msg, mapped));
  }

  private staticMessages(storedModel: string | null, model: Omit<ModelMsg, 'type' | 'seq'>): { msgs: Unsequenced[]; note?: string } {
    // DL4J sends its init twice (§1.6): the same model again is no news.
    if (storedModel !== null && storedModel === toWireJson({ layers: model.layers, loss: model.loss, optimizer: model.optimizer })) {
      return { msgs: [], note: 'model unchanged' };
    }
    return { msgs: [{ type: 'model', ...model }] };
  }

  /**
   * step = iterationCount. An iteration at or below the run's last step is either a post of a
   * report already stored (its time is not later than the last step's: nothing is stored) or
   * training that counts again (a new fit with a reset counter, a restart under the same
   * session id): it goes after the last step, with the DL4J iteration kept as `dl4j/iteration`.
   * Reports are keyed by iteration, not time, so two in the same millisecond are both kept.
   */
  private async placeUpdate(s: RunSession, u: Update, mapped: MappedUpdate): Promise<{ msgs: Unsequenced[]; step?: number; note?: string }> {
    const last = s.lastStep;
    if (last === null || u.iteration > last) return { msgs: updateMessages(mapped, u.iteration), step: u.iteration };
    const lastTime = (await this.d.points.steps(s.uid, { from: last, to: last, limit: 1 })).steps[0]?.[1];
    if (lastTime !== null && lastTime !== undefined && u.time / 1000 <= lastTime) {
      return { msgs: [], note: `iteration ${u.iteration} is not after the last stored step ${last}, nor newer: already stored` };
    }
    const step = last + 1;
    mapped.item.scalars['dl4j/iteration'] = u.iteration;
    return { msgs: updateMessages(mapped, step), step, note: `iteration ${u.iteration} follows step ${last}: stored as step ${step}` };
  }

  private async session(
    runId: string,
    project: string,
    fields: RunFields,
    build: (s: RunSession) => Built | Promise<Built>,
  ): Promise<Received> {
    const peer = new HttpPeer();
    const run: RunInfo = { id: runId, project, ...fields };
    const hello = { type: 'hello' as const, protocol: PROTOCOL_VERSION, run };
    if (!validators.hello.check(hello)) throw badRequest(`this DL4J session maps to an invalid run: ${validators.hello.explain(hello)}`);
    // As a socket's hello is checked: a NUL or a lone surrogate in a string the DL4J report carries.
    const bad = illFormedString(hello);
    if (bad !== null) throw badRequest(`this DL4J session maps to an invalid run: ${bad}`);
    let session: RunSession;
    let lastSeq: number;
    try {
      const res = await this.d.ingest.hello(peer, hello);
      session = res.session;
      lastSeq = res.welcome.lastSeq;
    } catch (e) {
      if (e instanceof Rejection) throw new HttpError(e.code === 'forbidden' ? 409 : (STATUS[e.code] ?? 400), e.message);
      if (this.d.ingest.isTransient(e)) throw new HttpError(503, 'the database is busy, full or unreachable; nothing was stored');
      throw e;
    }
    try {
      const built = await build(session);
      const msgs = checkAll(built.msgs, 'message', lastSeq + 1);
      const answers = msgs.map((m) => peer.wait(m.seq));
      for (const m of msgs) this.d.ingest.submit(peer, session, m);
      for (const a of await Promise.all(answers)) if (a.type === 'error') throw httpErrorOf(a);
      const out: Received = { runId, stored: msgs.length };
      if (built.step !== undefined) out.step = built.step;
      if (built.note !== undefined) out.note = built.note;
      return out;
    } finally {
      this.d.ingest.detach(peer, session);
    }
  }
}

/** What a DL4J message becomes: protocol messages, the step they go to, and a note for the reply. */
interface Built {
  msgs: Unsequenced[];
  step?: number;
  note?: string;
}

/** The steps item and the histograms of one Update, at `step`. */
function updateMessages(mapped: MappedUpdate, step: number): Unsequenced[] {
  const msgs: Unsequenced[] = [{ type: 'steps', items: [{ step, ...mapped.item, scalars: { ...mapped.item.scalars } }] }];
  for (const h of mapped.hists) msgs.push({ type: 'hist', step, ...h });
  return msgs;
}

/** Numbers the messages from `firstSeq` and checks each as a socket client's message is checked. */
function checkAll(msgs: Unsequenced[], what: string, firstSeq = 1): SeqMsg[] {
  const out = msgs.map((m, i) => ({ ...m, seq: firstSeq + i }) as SeqMsg);
  for (const m of out) {
    const v = validators[m.type];
    const raw: unknown = m;
    if (!v.check(raw)) throw badRequest(`this DL4J ${what} maps to an invalid ${m.type}: ${v.explain(raw)}`);
    const bad = illFormedString(raw);
    if (bad !== null) throw badRequest(`this DL4J ${what} maps to an invalid ${m.type}: ${bad}`);
  }
  return out;
}

/** The stored run as a hello would send it, so a post without a StaticInfo changes none of it. */
function fieldsOf(row: NonNullable<Awaited<ReturnType<RunsService['find']>>>): RunFields {
  const f: RunFields = { name: row.name, tags: JSON.parse(row.tags) as string[], config: JSON.parse(row.config) as Record<string, unknown> };
  if (row.framework !== null) f.framework = row.framework;
  if (row.host !== null) f.host = row.host;
  if (row.worldSize !== null) f.worldSize = row.worldSize;
  return f;
}

