import type { WebSocket } from 'ws';
import { isExpired } from './tokens.service.js';

/** How long a socket told to close may take to answer before it is cut. */
const CLOSE_GRACE_MS = 250;

export type EndReason = 'revoked' | 'expired';

const MESSAGES: Record<EndReason, string> = {
  revoked: 'the token this connection authenticated with was revoked; connect again with a valid token',
  expired: 'the token this connection authenticated with has expired; connect again with a valid token',
};

/**
 * The open sockets (ingest and live) by the stored token that let them in, so that revoking a
 * token or its expiry ends them too, not only later requests. Each is told why with an
 * `unauthorized` error frame, closed with 1008, and cut if it does not answer the close at once:
 * a socket that ignores the close must not keep streaming under a dead token.
 */
export class TokenSockets {
  private readonly byToken = new Map<number, Set<WebSocket>>();
  private readonly tokenOf = new Map<WebSocket, number>();
  private readonly watched = new WeakSet<WebSocket>();
  private timer: NodeJS.Timeout | null = null;

  /** @param expiries the expiry of each still-existing token of these ids (a missing id was revoked). */
  constructor(private readonly expiries: (ids: number[]) => Promise<Map<number, string | null>>) {}

  /** Records that this socket acts under this token (null: the bootstrap token or auth off). */
  bind(socket: WebSocket, tokenId: number | null): void {
    const prev = this.tokenOf.get(socket);
    if (prev === tokenId) return;
    if (prev !== undefined) this.unbind(socket);
    if (tokenId === null) return;
    this.tokenOf.set(socket, tokenId);
    let set = this.byToken.get(tokenId);
    if (!set) this.byToken.set(tokenId, (set = new Set()));
    set.add(socket);
    if (!this.watched.has(socket)) {
      this.watched.add(socket);
      socket.once('close', () => this.unbind(socket));
    }
  }

  private unbind(socket: WebSocket): void {
    const id = this.tokenOf.get(socket);
    if (id === undefined) return;
    this.tokenOf.delete(socket);
    const set = this.byToken.get(id);
    set?.delete(socket);
    if (set?.size === 0) this.byToken.delete(id);
  }

  /** Ends every socket of the token; returns how many. */
  end(tokenId: number, reason: EndReason): number {
    const set = this.byToken.get(tokenId);
    if (!set) return 0;
    this.byToken.delete(tokenId);
    for (const s of set) {
      this.tokenOf.delete(s);
      if (s.readyState === s.OPEN) {
        s.send(JSON.stringify({ type: 'error', code: 'unauthorized', message: MESSAGES[reason] }));
        s.close(1008, 'unauthorized');
      }
      setTimeout(() => s.terminate(), CLOSE_GRACE_MS).unref();
    }
    return set.size;
  }

  /** Ends the sockets of tokens that expired, or were revoked elsewhere (the CLI, on the same file). */
  async sweep(now = Date.now()): Promise<void> {
    if (this.byToken.size === 0) return;
    const ids = [...this.byToken.keys()];
    let alive: Map<number, string | null>;
    try {
      alive = await this.expiries(ids);
    } catch {
      // The database cannot answer now: the sockets stay until the next sweep can tell.
      return;
    }
    for (const id of ids) {
      if (!alive.has(id)) this.end(id, 'revoked');
      else if (isExpired(alive.get(id) ?? null, now)) this.end(id, 'expired');
    }
  }

  /** Sweeps every `everyMs`: revocation and expiry reach open sockets within that time. */
  start(everyMs: number): void {
    this.stop();
    this.timer = setInterval(() => void this.sweep(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Sockets currently bound to a stored token (for tests). */
  get size(): number {
    return this.tokenOf.size;
  }
}
