import type { FastifyInstance } from 'fastify';
import type { ErrorMsg } from '@gradwatch/shared';

/**
 * The WebSocket plugin's preClose, run first on app.close() (SIGTERM): commit and ack
 * everything queued while the sockets are still open, tell each socket why it is closing,
 * then close them. Without it the sockets would close before the domain's flush and the acks of
 * the last batch would be lost (the data not: a resumed client would be re-acked).
 */
export function flushThenCloseSockets(this: FastifyInstance, done: () => void): void {
  const wss = this.websocketServer;
  // From here on nothing more is read into the queue: what is queued is committed and acked, and
  // what arrives now is neither stored nor acked, so the client re-sends it after a reconnect.
  for (const client of wss.clients) client.removeAllListeners('message');
  this.ingest
    .flush()
    .catch((err: unknown) => this.log.error({ err }, 'flush on shutdown failed'))
    .finally(() => closeAll(wss, done));
}

function closeAll(wss: FastifyInstance['websocketServer'], done: () => void): void {
  for (const client of wss.clients) {
    if (client.readyState === client.OPEN) {
      const msg: ErrorMsg = { type: 'error', code: 'shutdown', message: 'the server is shutting down; reconnect and re-send what was not acked' };
      client.send(JSON.stringify(msg));
    }
    client.close(1001, 'server shutting down');
  }
  wss.close();
  done();
}
