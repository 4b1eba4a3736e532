import type { WebSocket } from 'ws';
import { isUtf8 } from 'node:buffer';
import { illFormedString, LiveAuth, LiveSubscribe, LiveUnsubscribe, mayHoldIllFormed, type ErrorCode } from '@gradwatch/shared';
import { inOrder } from '../ingest/in-order.js';
import { RateLimiter } from '../ingest/rate-limiter.js';
import { SocketGuard, type GuardLimits } from '../ingest/socket-guard.js';
import { validator } from '../ingest/validators.js';
import type { LiveHub } from './hub.js';

const v = {
  auth: validator<LiveAuth>(LiveAuth),
  subscribe: validator<LiveSubscribe>(LiveSubscribe),
  unsubscribe: validator<LiveUnsubscribe>(LiveUnsubscribe),
};

const MAX_LIVE_FRAME = 1_000_000;

export interface LiveAuthorizer {
  /** null when the token may read these runs (or no token is needed); else why not. */
  check(token: string | undefined, runUids: string[]): Promise<{ code: string; message: string } | null>;
  required: boolean;
}

/** A dashboard socket: optional auth message, then subscribe / unsubscribe. */
export function serveLive(socket: WebSocket, hub: LiveHub, auth: LiveAuthorizer, queryToken: string | undefined, limits: GuardLimits & { maxMessagesPerSecond: number }): void {
  const guard = new SocketGuard(socket, limits, 'auth message');
  const client = hub.attach(socket);
  let token = queryToken;
  // Frames wait behind the token checks, which may read the database.
  const handle = inOrder();
  if (!auth.required) guard.authenticated();
  else if (token !== undefined) {
    const t = token;
    handle(async () => {
      if ((await auth.check(t, [])) === null) guard.authenticated();
    });
  }
  const limiter = new RateLimiter(limits.maxMessagesPerSecond);
  const fail = (code: ErrorCode, message: string): void => guard.error(code, message);
  const ready = (): void => guard.send({ type: 'ready' });
  const onFrame = async (data: Buffer, isBinary: boolean): Promise<void> => {
    if (!guard.open) return;
    if (isBinary || data.length > MAX_LIVE_FRAME) return fail('bad_message', 'send JSON text frames under 1 MB');
    if (!limiter.take()) return fail('rate_limited', `more than ${limits.maxMessagesPerSecond} messages a second on a live socket; slow down`);
    if (!isUtf8(data)) return fail('bad_json', 'the text frame is not valid UTF-8');
    const text = data.toString('utf8');
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      return fail('bad_json', `malformed JSON: ${(e as Error).message}`);
    }
    const type = (msg as { type?: unknown } | null)?.type;
    const illFormed = mayHoldIllFormed(text) ? illFormedString(msg) : null;
    if (type === 'auth') {
      if (!v.auth.check(msg)) return fail('bad_message', `invalid auth: ${v.auth.explain(msg)}`);
      if (illFormed) return fail('bad_message', `invalid auth: ${illFormed}`);
      token = msg.token;
      const denied = await auth.check(token, []);
      if (denied) return guard.closeWith(denied.code as ErrorCode, denied.message, 1008);
      guard.authenticated();
      return ready();
    }
    if (type === 'subscribe') {
      if (!v.subscribe.check(msg)) return fail('bad_message', `invalid subscribe: ${v.subscribe.explain(msg)}`);
      if (illFormed) return fail('bad_message', `invalid subscribe: ${illFormed}`);
      const denied = await auth.check(token, msg.runs);
      if (denied) return fail(denied.code as ErrorCode, denied.message);
      hub.subscribe(client, msg.runs, msg.series);
      return ready();
    }
    if (type === 'unsubscribe') {
      if (!v.unsubscribe.check(msg)) return fail('bad_message', `invalid unsubscribe: ${v.unsubscribe.explain(msg)}`);
      if (illFormed) return fail('bad_message', `invalid unsubscribe: ${illFormed}`);
      hub.unsubscribe(client, msg.runs);
      return ready();
    }
    fail('unknown_type', `unknown message type ${JSON.stringify(type)?.slice(0, 60)}; expected auth, subscribe or unsubscribe`);
  };
  socket.on('message', (data: Buffer, isBinary: boolean) => handle(() => onFrame(data, isBinary)));
  socket.on('close', () => handle(() => hub.detach(client)));
}
