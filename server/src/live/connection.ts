import type { WebSocket } from 'ws';
import { LiveSubscribe, LiveUnsubscribe, LiveAuth } from '@gradwatch/shared';
import { validator } from '../ingest/validators.js';
import type { LiveHub } from './hub.js';

const v = {
  auth: validator<LiveAuth>(LiveAuth),
  subscribe: validator<LiveSubscribe>(LiveSubscribe),
  unsubscribe: validator<LiveUnsubscribe>(LiveUnsubscribe),
};

export interface LiveAuthorizer {
  /** null when the token may read these runs (or no token is needed); else why not. */
  check(token: string | undefined, runUids: string[]): { code: string; message: string } | null;
  required: boolean;
}

/** A dashboard socket: optional auth message, then subscribe / unsubscribe. */
export function serveLive(socket: WebSocket, hub: LiveHub, auth: LiveAuthorizer, queryToken: string | undefined): void {
  const client = hub.attach(socket);
  let token = queryToken;
  const fail = (code: string, message: string): void => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: 'error', code, message }));
  };
  socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary || data.length > 1_000_000) return fail('bad_message', 'send JSON text frames under 1 MB');
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch (e) {
      return fail('bad_json', `malformed JSON: ${(e as Error).message}`);
    }
    const type = (msg as { type?: unknown } | null)?.type;
    if (type === 'auth') {
      if (!v.auth.check(msg)) return fail('bad_message', `invalid auth: ${v.auth.explain(msg)}`);
      token = msg.token;
      const denied = auth.check(token, []);
      if (denied) {
        fail(denied.code, denied.message);
        socket.close(1008, denied.code);
      } else socket.send(JSON.stringify({ type: 'ready' }));
      return;
    }
    if (type === 'subscribe') {
      if (!v.subscribe.check(msg)) return fail('bad_message', `invalid subscribe: ${v.subscribe.explain(msg)}`);
      const denied = auth.check(token, msg.runs);
      if (denied) return fail(denied.code, denied.message);
      hub.subscribe(client, msg.runs, msg.series);
      socket.send(JSON.stringify({ type: 'ready' }));
      return;
    }
    if (type === 'unsubscribe') {
      if (!v.unsubscribe.check(msg)) return fail('bad_message', `invalid unsubscribe: ${v.unsubscribe.explain(msg)}`);
      hub.unsubscribe(client, msg.runs);
      socket.send(JSON.stringify({ type: 'ready' }));
      return;
    }
    fail('unknown_type', `unknown message type ${JSON.stringify(type)?.slice(0, 60)}; expected auth, subscribe or unsubscribe`);
  });
  socket.on('close', () => hub.detach(client));
  socket.on('error', () => socket.terminate());
}
