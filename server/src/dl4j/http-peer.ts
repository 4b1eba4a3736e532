import type { ErrorMsg, ServerMsg } from '@gradwatch/shared';
import type { Peer } from '../ingest/run-session.js';

/** Far above the socket peers' counter, so the ids never meet. */
let nextId = 1_000_000_000;

export type Answer = { type: 'ack'; seq: number } | ErrorMsg;

/**
 * The ingest path's view of one /remoteReceive request: what a socket would be sent is routed
 * to the waiter of its seq, so the request is answered from the same acks and errors a training
 * job over WebSocket would get. Alerts and stop commands have nowhere to go: DL4J cannot take them.
 */
export class HttpPeer implements Peer {
  readonly id = nextId++;
  private readonly waiters = new Map<number, (a: Answer) => void>();
  /** Why the run was taken away (deleted, taken over), if it was. */
  lost: ErrorMsg | null = null;

  send(msg: ServerMsg): void {
    if (msg.type === 'ack' || (msg.type === 'error' && msg.seq !== undefined)) {
      const w = this.waiters.get(msg.seq as number);
      if (w) {
        this.waiters.delete(msg.seq as number);
        w(msg as Answer);
      }
      return;
    }
    if (msg.type === 'error') this.drop(msg);
  }

  close(): void {
    this.drop({ type: 'error', code: 'replaced', message: 'the run was closed while this request was stored' });
  }

  private drop(msg: ErrorMsg): void {
    this.lost ??= msg;
    for (const [seq, w] of this.waiters) w({ ...msg, seq });
    this.waiters.clear();
  }

  /** Resolves with the ack or error of `seq`; registered before the message is submitted. */
  wait(seq: number): Promise<Answer> {
    if (this.lost) return Promise.resolve({ ...this.lost, seq });
    return new Promise((resolve) => this.waiters.set(seq, resolve));
  }
}
