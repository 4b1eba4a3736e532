import type { ErrorMsg } from '@gradwatch/shared';
import type { IngestListener, Pending } from './pending.js';
import type { RunSession } from './run-session.js';

/** The answer to a message its batch could not store: retry when the database may take it later. */
export function retryError(seq: number, transient: boolean): ErrorMsg {
  return {
    type: 'error',
    code: transient ? 'retry' : 'internal',
    seq,
    message: transient ? 'the database is busy, full or unreachable; send this message again after a back-off' : 'internal error; nothing was stored: send this message again later',
  };
}

/**
 * After a commit: each message's answer (ack, its rejection, or retry when it or an earlier
 * message of its run was rolled back), then what it made visible — live points, alerts,
 * the verdict, a stop command.
 */
export function announceCommitted(batch: readonly Pending[], failed: ReadonlyMap<RunSession, unknown>, listener: IngestListener, isTransient: (e: unknown) => boolean): void {
  for (const p of batch) {
    const fault = failed.get(p.session);
    if (p.error) {
      p.peer.send({ type: 'error', code: p.error.code, seq: p.msg.seq, message: p.error.message });
    } else if (p.msg.seq > p.session.lastSeq) {
      // Its own fault, an earlier message of its run that failed, or a re-send whose original was rolled back.
      p.peer.send(fault !== undefined ? retryError(p.msg.seq, isTransient(fault)) : { type: 'error', code: 'retry', seq: p.msg.seq, message: 'not stored yet; send it again' });
    } else {
      p.peer.send({ type: 'ack', seq: p.msg.seq });
    }
    if (p.live?.length) listener.points(p.session.uid, p.live);
    for (const a of p.alerts ?? []) {
      p.session.owner?.send({ type: 'alert', alert: a });
      listener.alert(a);
    }
    if (p.diagnoses) {
      p.session.owner?.send({ type: 'diagnosis', diagnoses: p.diagnoses });
      listener.diagnosis(p.session.uid, p.diagnoses);
    }
    if (p.stop) p.session.owner?.send({ type: 'command', action: 'stop', reason: p.stop });
  }
}
