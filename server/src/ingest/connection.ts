import { isUtf8 } from 'node:buffer';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import { illFormedString, mayHoldIllFormed, SEQ_MSG_TYPES, type ErrorCode, type Hello, type SeqMsg } from '@gradwatch/shared';
import type { IngestService } from './ingest.service.js';
import { inOrder } from './in-order.js';
import { Rejection } from './pending.js';
import type { Peer, RunSession } from './run-session.js';
import { RateLimiter } from './rate-limiter.js';
import { SocketGuard, type GuardLimits } from './socket-guard.js';
import { validators } from './validators.js';
import { decodeBinary } from './binary.js';
import { readStepsFrame } from './steps-frame.js';

let nextPeerId = 1;

/** The write path's view of a socket: every send goes through the guard's bounds. */
export function socketPeer(socket: WebSocket, guard: SocketGuard): Peer {
  return {
    id: nextPeerId++,
    send: (msg) => (msg.type === 'error' ? guard.error(msg.code, msg.message, pick(msg)) : guard.send(msg)),
    close: (code, reason) => socket.close(code, reason),
  };
}

const pick = (m: { seq?: number; expected?: number }) => ({ ...(m.seq !== undefined ? { seq: m.seq } : {}), ...(m.expected !== undefined ? { expected: m.expected } : {}) });

const SEQ_TYPES: ReadonlySet<string> = new Set(SEQ_MSG_TYPES);

/** One training job's socket: framing, parsing and schema checks; the service does the rest. */
export function serveIngest(
  socket: WebSocket,
  service: IngestService,
  authorize: (project: string, token?: string) => Promise<{ code: 'unauthorized' | 'forbidden' | 'not_found'; message: string } | null>,
  log: FastifyBaseLogger,
  limits: GuardLimits & { maxHellosPerMinute: number },
): void {
  const guard = new SocketGuard(socket, limits, 'hello');
  const peer = socketPeer(socket, guard);
  const limiter = new RateLimiter(service.limits.maxMessagesPerSecond);
  // A hello is a write transaction and forces a group commit of everyone's queue: a peer that
  // repeats it would make every job's messages commit one fsync at a time.
  const hellos = new RateLimiter(limits.maxHellosPerMinute / 60, Math.min(10, limits.maxHellosPerMinute));
  let state: RunSession | null = null;
  // Set by a hello that offers msgpack (the welcome says so): binary frames are taken from then on.
  let binary = false;
  const fail = (code: ErrorCode, message: string): void => guard.error(code, message);

  // A hello waits on the database; frames that come meanwhile are handled after it, in order.
  const handle = inOrder();

  const hello = async (msg: Hello): Promise<void> => {
    const denied = await authorize(msg.run.project, msg.token);
    if (denied !== null) return guard.closeWith(denied.code, denied.message, 1008);
    try {
      const res = await service.hello(peer, msg);
      if (state && state !== res.session) service.detach(peer, state);
      state = res.session;
      guard.authenticated();
      binary = msg.encodings?.includes('msgpack') === true;
      peer.send(binary ? { ...res.welcome, encoding: 'msgpack' } : res.welcome);
      for (const a of res.alerts) peer.send({ type: 'alert', alert: a });
      if (res.diagnoses) peer.send({ type: 'diagnosis', diagnoses: res.diagnoses });
    } catch (e) {
      if (!(e instanceof Rejection)) {
        // Never a crash: a busy, full or unreachable database is worth a retry; anything else is logged.
        const transient = service.isTransient(e);
        if (!transient) log.error({ err: e }, 'hello failed');
        return fail(transient ? 'retry' : 'internal', transient ? 'the database is busy, full or unreachable; send hello again after a back-off' : 'internal error; see the server log');
      }
      if (e.code === 'protocol') return guard.closeWith(e.code, e.message, 1002);
      fail(e.code, e.message);
    }
  };

  const onFrame = (data: Buffer, isBinary: boolean): void | Promise<void> => {
    if (!guard.open) return;
    if (data.length > service.limits.maxFrameBytes) {
      return guard.closeWith('frame_too_large', `frame of ${data.length} bytes exceeds maxFrameBytes=${service.limits.maxFrameBytes}; split the batch`, 1009);
    }
    if (isBinary && !binary) {
      return fail('bad_message', 'binary frames need a hello offering encodings ["msgpack"] and a welcome with encoding "msgpack"; send JSON text frames');
    }
    if (!limiter.take()) {
      return fail('rate_limited', `more than ${service.limits.maxMessagesPerSecond} messages a second; slow down and re-send`);
    }
    if (isBinary && state !== null) {
      // Nearly every frame: read straight into packed steps, or null for the general path below.
      const steps = readStepsFrame(data);
      if (steps !== null) return service.submit(peer, state, steps);
    }
    let msg: unknown;
    // A string a message may not hold (JSON: a lone surrogate or NUL escape; MessagePack: also
    // any value JSON has no form for), refused once the seq is known.
    let illFormed: string | null;
    if (isBinary) {
      const d = decodeBinary(data);
      if (!d.ok) return fail('bad_message', d.message);
      msg = d.msg;
      if (typeof msg !== 'object' || msg === null || Object.getPrototypeOf(msg) !== Object.prototype) {
        return fail('bad_message', 'a message must be a MessagePack map with a "type"');
      }
      if ((msg as { type?: unknown }).type === 'hello') return fail('bad_message', 'hello is sent as a JSON text frame');
      illFormed = d.problem;
    } else {
      // ws leaves UTF-8 to the app (skipUTF8Validation), so bad text is refused here, not by a close.
      if (!isUtf8(data)) return fail('bad_json', 'the text frame is not valid UTF-8');
      const text = data.toString('utf8');
      try {
        msg = JSON.parse(text);
      } catch (e) {
        return fail('bad_json', `malformed JSON: ${(e as Error).message}`);
      }
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
        return fail('bad_message', 'a message must be a JSON object with a "type"');
      }
      illFormed = mayHoldIllFormed(text) ? illFormedString(msg) : null;
    }
    const type = (msg as { type?: unknown }).type;
    if (type === 'hello') {
      if (!validators.hello.check(msg)) return fail('bad_message', `invalid hello: ${validators.hello.explain(msg)}`);
      if (illFormed) return fail('bad_message', `invalid hello: ${illFormed}`);
      if (!hellos.take()) return fail('rate_limited', `more than ${limits.maxHellosPerMinute} hellos a minute on one connection; a job says hello once per connection`);
      return hello(msg);
    }
    if (typeof type !== 'string' || !SEQ_TYPES.has(type)) {
      return fail('unknown_type', `unknown message type ${JSON.stringify(type)?.slice(0, 60)}; expected hello, ${SEQ_MSG_TYPES.join(', ')}`);
    }
    if (state === null) return fail('no_hello', 'send hello before any other message');
    const seq = (msg as { seq?: unknown }).seq;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      return fail('bad_message', 'seq must be an integer >= 1');
    }
    const v = validators[type as SeqMsg['type']];
    // A value JSON has no form for (a MessagePack binary, timestamp, ...) is refused before the
    // schemas walk it: a 4 MB binary would be a record of four million entries to them.
    if (isBinary && illFormed) return service.reject(peer, state, seq, 'bad_message', `invalid ${type}: ${illFormed}`);
    if (!v.check(msg)) {
      return service.reject(peer, state, seq, 'bad_message', `invalid ${type}: ${v.explain(msg)}`);
    }
    if (illFormed) return service.reject(peer, state, seq, 'bad_message', `invalid ${type}: ${illFormed}`);
    service.submit(peer, state, msg as SeqMsg);
  };

  socket.on('message', (data: Buffer, isBinary: boolean) => handle(() => onFrame(data, isBinary)));
  socket.on('close', () => handle(() => service.detach(peer, state)));
}
