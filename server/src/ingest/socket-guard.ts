import type { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import type { ErrorCode } from '@gradwatch/shared';
import type { Config } from '../config.js';

export interface GuardLimits {
  /** Bytes the peer may leave unread in the server's send buffer. */
  maxBufferedBytes: number;
  /** The frame size the app accepts (and ws's maxPayload), named in frame_too_large. */
  maxFrameBytes: number;
  helloTimeoutMs: number;
  preAuthMaxErrors: number;
  maxErrorsPerMinute: number;
}

/** The guard's share of the server's limits (config.ts). */
export function guardLimits(l: Config['limits']): GuardLimits {
  return { maxBufferedBytes: l.maxBufferedBytes, maxFrameBytes: l.maxFrameBytes, helloTimeoutMs: l.helloTimeoutMs, preAuthMaxErrors: l.preAuthMaxErrors, maxErrorsPerMinute: l.maxErrorsPerMinute };
}

/**
 * The WebSocket plugin's errorHandler. Its default logs every socket error with a stack and cuts
 * the socket at once, so a frame ws refused was logged per attacker frame and its close frame was
 * often lost (1006). A peer's fault is logged at debug; the socket is cut after the grace period,
 * once the reason and the close frame have had time to go out. A fault of the server's own
 * handler is an error, and the socket goes at once.
 */
export function onSocketError(error: Error & { code?: string }, socket: WebSocket, log: { debug(o: object, m: string): void; error(o: object, m: string): void }): void {
  const code = error.code ?? '';
  if (code.startsWith('WS_ERR_') || PEER_GONE.has(code)) {
    log.debug({ err: error }, 'websocket peer error');
    setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
    return;
  }
  log.error({ err: error }, 'websocket handler failed');
  socket.terminate();
}
const PEER_GONE = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/** On shutdown, every socket gets this long to finish its close handshake before it is cut. */
const SHUTDOWN_GRACE_MS = 2000;

/** The server is stopping: sockets still open after the grace period are cut, read or not. */
export function cutOnShutdown(clients: Iterable<WebSocket>): void {
  for (const c of [...clients]) setTimeout(() => c.terminate(), SHUTDOWN_GRACE_MS).unref();
}

/** After a close frame is queued, how long a peer has to read it before the socket is cut. */
const CLOSE_GRACE_MS = 1000;

/**
 * Errors the server starts (faults worth a retry, seq gaps while resuming, a takeover, a shutdown)
 * cost the peer nothing; every other error was earned by what the peer sent, and costs from its
 * budget: before hello the budget is small, since nothing the peer sent has been right yet.
 */
const FREE = new Set(['retry', 'internal', 'gap', 'shutdown', 'replaced', 'not_found']);
const costs = (code: string): boolean => !FREE.has(code);

/** ws's own frame-parser errors (by ws's error code) and what the peer is told before ws closes. */
function frameError(wsCode: string | undefined, maxFrameBytes: number): { code: ErrorCode; message: string } {
  switch (wsCode) {
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
      return { code: 'frame_too_large', message: `the message exceeds maxFrameBytes=${maxFrameBytes}; split the batch` };
    case 'WS_ERR_TOO_MANY_BUFFERED_PARTS':
      return { code: 'frame_too_large', message: 'the message came in too many fragments; send each message in fewer, larger frames' };
    default:
      return { code: 'bad_frame', message: `the WebSocket framing is invalid (${wsCode ?? 'unknown'}); the client library is broken` };
  }
}

/**
 * Every frame the server sends on one socket goes through here, so that no peer can make the
 * server hold more for it than a bound: a peer that leaves more than maxBufferedBytes unread is
 * told slow_consumer and cut; a peer that keeps sending what earns errors is told abuse and cut
 * (a small budget before hello / auth, a refilling one after); a peer that never says hello is
 * told hello_timeout. Each close sends the error first, then the close frame, and cuts the TCP
 * connection a second later whether or not the peer read them: memory is freed either way.
 */
export class SocketGuard {
  private closing = false;
  private authed = false;
  private budget: number;
  private lastRefill = Date.now();
  private helloTimer: NodeJS.Timeout | null;

  constructor(
    private readonly socket: WebSocket,
    private readonly limits: GuardLimits,
    what: string,
  ) {
    this.budget = limits.preAuthMaxErrors;
    this.helloTimer = setTimeout(() => this.closeWith('hello_timeout', `no ${what} within ${limits.helloTimeoutMs} ms; connect again and send it first`, 1008), limits.helloTimeoutMs);
    this.helloTimer.unref();
    this.hookFrameErrors();
    socket.on('ping', () => this.checkBuffer());
    socket.on('close', () => this.stopTimer());
    // The parser already queued its close frame: give the peer time to read it, then cut.
    socket.on('error', () => this.cutLater());
  }

  /** false once the socket is closing: nothing it sends is acted on any more. */
  get open(): boolean {
    return !this.closing && this.socket.readyState === this.socket.OPEN;
  }

  /** hello (or live auth) succeeded: the peer gets the larger, refilling error budget. */
  authenticated(): void {
    if (this.authed) return;
    this.authed = true;
    this.stopTimer();
    this.budget = this.limits.maxErrorsPerMinute;
    this.lastRefill = Date.now();
  }

  send(msg: object): void {
    if (!this.open) return;
    if (!this.checkBuffer()) return;
    this.socket.send(JSON.stringify(msg));
  }

  /** Sends an error; one the peer earned costs from its budget, and an empty budget closes it. */
  error(code: ErrorCode, message: string, extra: { seq?: number; expected?: number } = {}): void {
    if (!this.open) return;
    if (costs(code) && !this.spend()) {
      this.closeWith('abuse', this.authed ? `more than ${this.limits.maxErrorsPerMinute} invalid messages a minute on this connection` : `more than ${this.limits.preAuthMaxErrors} invalid messages before hello`, 1008);
      return;
    }
    this.send({ type: 'error', code, message, ...extra });
  }

  /** Tells the peer why, queues the close frame, and cuts the connection after a grace period. */
  closeWith(code: ErrorCode, message: string, wsCode: number): void {
    if (this.closing) return;
    const s = this.socket;
    if (s.readyState === s.OPEN) s.send(JSON.stringify({ type: 'error', code, message }));
    this.closing = true;
    this.stopTimer();
    if (s.readyState === s.OPEN) s.close(wsCode, code);
    if (code === 'abuse' || code === 'slow_consumer') this.stopReading();
    this.cutLater();
  }

  /**
   * A hostile peer keeps sending until it is cut: its input is no longer read at all, so during
   * the grace period it costs the server nothing. (A peer that does read its replies may lose the
   * reason when the connection is then reset with its unread input; one that does not read never
   * sees it anyway.)
   */
  private stopReading(): void {
    (this.socket as unknown as { _socket?: { pause(): void } })._socket?.pause();
  }

  /** true when the peer reads what it is sent; else it is cut as slow_consumer. */
  private checkBuffer(): boolean {
    if (this.socket.bufferedAmount <= this.limits.maxBufferedBytes) return true;
    this.closeWith('slow_consumer', `more than ${this.limits.maxBufferedBytes} bytes sent to this socket were left unread; read replies as they come`, 1013);
    return false;
  }

  private spend(): boolean {
    if (this.authed) {
      const now = Date.now();
      const per = this.limits.maxErrorsPerMinute;
      this.budget = Math.min(per, this.budget + ((now - this.lastRefill) / 60_000) * per);
      this.lastRefill = now;
    }
    if (this.budget < 1) return false;
    this.budget -= 1;
    return true;
  }

  private cutLater(): void {
    this.closing = true;
    setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  private stopTimer(): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
  }

  /**
   * ws closes a socket itself on a frame it cannot accept (over maxPayload, too many fragments,
   * broken framing) before the app sees any message. Its parser reports the error to the socket
   * first; a listener put ahead of the socket's own gets to send the reason while the socket is
   * still open, so the error reaches the peer before ws's close frame.
   */
  private hookFrameErrors(): void {
    const receiver = (this.socket as unknown as { _receiver?: EventEmitter })._receiver;
    receiver?.prependListener('error', (err: Error & { code?: string }) => {
      if (this.closing || this.socket.readyState !== this.socket.OPEN) return;
      const e = frameError(err.code, this.limits.maxFrameBytes);
      this.socket.send(JSON.stringify({ type: 'error', ...e }));
    });
  }
}
