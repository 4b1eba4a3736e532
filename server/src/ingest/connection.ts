import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { ErrorCode, SeqMsg } from '@gradwatch/shared';
import { isTransientDbError } from '../storage/db.js';
import type { IngestService } from './ingest.service.js';
import { Rejection } from './pending.js';
import type { Peer, RunSession } from './run-session.js';
import { validators } from './validators.js';

let nextPeerId = 1;

/** Decodes a frame without copying it first: frames are large on the ingest path. */
function textOf(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** Token bucket: messages per second per connection, with one second of burst. */
class RateLimiter {
  private tokens: number;
  private last = Date.now();
  constructor(private readonly perSecond: number) {
    this.tokens = perSecond;
  }
  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export function socketPeer(socket: WebSocket): Peer {
  return {
    id: nextPeerId++,
    send: (msg) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
    },
    close: (code, reason) => socket.close(code, reason),
  };
}

const SEQ_TYPES = new Set(['model', 'steps', 'eval', 'hist', 'end']);

/** One training job's socket: framing, parsing and schema checks; the service does the rest. */
export function serveIngest(
  socket: WebSocket,
  service: IngestService,
  authorize: (project: string, token?: string) => { code: 'unauthorized' | 'forbidden' | 'not_found'; message: string } | null,
  log: FastifyBaseLogger,
): void {
  const peer = socketPeer(socket);
  const limiter = new RateLimiter(service.limits.maxMessagesPerSecond);
  let state: RunSession | null = null;
  const fail = (code: ErrorCode, message: string, seq?: number): void =>
    peer.send({ type: 'error', code, message, ...(seq !== undefined ? { seq } : {}) });

  socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    if (size > service.limits.maxFrameBytes) {
      fail('frame_too_large', `frame of ${size} bytes exceeds maxFrameBytes=${service.limits.maxFrameBytes}; split the batch`);
      socket.close(1009, 'frame too large');
      return;
    }
    if (isBinary) return fail('bad_message', 'binary frames are not part of the protocol: send JSON text frames');
    if (!limiter.take()) {
      return fail('rate_limited', `more than ${service.limits.maxMessagesPerSecond} messages a second; slow down and re-send`);
    }
    let msg: unknown;
    try {
      msg = JSON.parse(textOf(data));
    } catch (e) {
      return fail('bad_json', `malformed JSON: ${(e as Error).message}`);
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      return fail('bad_message', 'a message must be a JSON object with a "type"');
    }
    const type = (msg as { type?: unknown }).type;
    if (type === 'hello') {
      if (!validators.hello.check(msg)) return fail('bad_message', `invalid hello: ${validators.hello.explain(msg)}`);
      const denied = authorize(msg.run.project, msg.token);
      if (denied !== null) {
        fail(denied.code, denied.message);
        socket.close(1008, denied.code);
        return;
      }
      try {
        const res = service.hello(peer, msg);
        if (state && state !== res.session) service.detach(peer, state);
        state = res.session;
        peer.send(res.welcome);
        for (const a of res.alerts) peer.send({ type: 'alert', alert: a });
        if (res.diagnoses) peer.send({ type: 'diagnosis', diagnoses: res.diagnoses });
      } catch (e) {
        if (!(e instanceof Rejection)) {
          // Never a crash: a busy, full or read-only database is worth a retry; anything else is logged.
          const transient = isTransientDbError(e);
          if (!transient) log.error({ err: e }, 'hello failed');
          return fail(transient ? 'retry' : 'internal', transient ? 'the database is busy or full; send hello again after a back-off' : 'internal error; see the server log');
        }
        fail(e.code, e.message);
        if (e.code === 'protocol') socket.close(1002, 'unsupported protocol');
      }
      return;
    }
    if (typeof type !== 'string' || !SEQ_TYPES.has(type)) {
      return fail('unknown_type', `unknown message type ${JSON.stringify(type)?.slice(0, 60)}; expected hello, model, steps, eval, hist or end`);
    }
    if (state === null) return fail('no_hello', 'send hello before any other message');
    const seq = (msg as { seq?: unknown }).seq;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      return fail('bad_message', 'seq must be an integer >= 1');
    }
    const v = validators[type as SeqMsg['type']];
    if (!v.check(msg)) {
      return service.reject(peer, state, seq, 'bad_message', `invalid ${type}: ${v.explain(msg)}`);
    }
    service.submit(peer, state, msg as SeqMsg);
  });

  socket.on('close', () => service.detach(peer, state));
  socket.on('error', () => socket.terminate());
}
