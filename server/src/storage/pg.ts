import { AsyncLocalStorage } from 'node:async_hooks';
import postgres from 'postgres';
import type { Transact } from './backend.js';

export type PgSql = postgres.Sql;
export type PgTx = postgres.TransactionSql;

/** The URL as it may be logged or shown: the password replaced. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable database URL>';
  }
}

/**
 * A pool of connections to PostgreSQL. Repositories ask `q()` for the connection to run on: the
 * transaction of the current async context when there is one, the pool otherwise; so a repo
 * method is the same code inside and outside a transaction.
 */
export class PgDb {
  readonly sql: PgSql;
  /**
   * The transaction of the current async context. Timers and callbacks started inside a
   * transaction inherit the context after it has ended, so `open` says whether it still runs.
   */
  private readonly tx = new AsyncLocalStorage<TxFrame>();

  constructor(readonly url: string, opts: { max?: number; onnotice?: (n: postgres.Notice) => void } = {}) {
    this.sql = postgres(url, {
      max: opts.max ?? 10,
      // Columns come back camelCased, as drizzle's SQLite rows are: one row type for both backends.
      transform: postgres.camel,
      // bigint (count(*), ids) as a JS number: every id and step here is far below 2^53.
      types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
      onnotice: opts.onnotice ?? (() => undefined),
      connect_timeout: 10,
    });
  }

  /** The connection for a query now: the current transaction's, or the pool. */
  q(): PgSql | PgTx {
    const cur = this.tx.getStore();
    return cur?.open ? cur.sql : this.sql;
  }

  inTransaction(): boolean {
    return this.tx.getStore()?.open === true;
  }

  /** One transaction; a savepoint when called inside one (but part of the whole inside transactBatch). */
  readonly transact: Transact = async <T>(fn: () => Promise<T>): Promise<T> => {
    const cur = this.tx.getStore();
    if (cur?.open && cur.later) return fn();
    const within = (t: PgTx) => this.run({ sql: t, open: true, later: null }, fn);
    if (cur?.open) return (await cur.sql.savepoint(within)) as T;
    return (await this.sql.begin(within)) as T;
  };

  /**
   * One transaction taken as a whole (Backend.transactBatch): no savepoints inside, and writes
   * given to later() are pipelined. It fails with the first write that failed, after every
   * statement sent has been answered (postgres.js then rolls back).
   */
  readonly transactBatch: Transact = async <T>(fn: () => Promise<T>): Promise<T> => {
    const cur = this.tx.getStore();
    if (cur?.open) return this.transact(fn);
    return (await this.sql.begin((t) => this.run({ sql: t, open: true, later: { sent: [], failure: null } }, fn))) as T;
  };

  private async run<T>(frame: TxFrame, fn: () => Promise<T>): Promise<T> {
    try {
      const out = await this.tx.run(frame, fn);
      await settle(frame);
      return out;
    } catch (e) {
      await settle(frame);
      // A statement after a failed one fails only because the transaction is aborted: the first failure is the cause.
      throw frame.later?.failure ?? e;
    } finally {
      frame.open = false;
    }
  }

  /**
   * A write whose result nobody reads. Inside transactBatch it is only sent: this resolves at
   * once and the transaction waits for it before committing (the next statement runs after it
   * on the same connection anyway). Elsewhere it is simply awaited.
   */
  async later(write: Promise<unknown>): Promise<void> {
    const cur = this.tx.getStore();
    if (!cur?.open || !cur.later) {
      await write;
      return;
    }
    const l = cur.later;
    l.sent.push(write.then(undefined, (e: unknown) => void (l.failure ??= e)));
  }

  /**
   * Runs `fn` holding a session advisory lock named `name`, or not at all when another session
   * holds it. The lock lives on one reserved connection, so it is released with it if this
   * process dies.
   */
  async exclusive<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
    const conn = await this.sql.reserve();
    try {
      const [row] = await conn<Array<{ ok: boolean }>>`SELECT pg_try_advisory_lock(hashtext(${name})) AS ok`;
      if (!row?.ok) return undefined;
      try {
        return await fn();
      } finally {
        await conn`SELECT pg_advisory_unlock(hashtext(${name}))`;
      }
    } finally {
      conn.release();
    }
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}

/** The transaction of an async context; `later` holds the pipelined writes of a transactBatch. */
interface TxFrame {
  sql: PgTx;
  open: boolean;
  later: { sent: Array<Promise<void>>; failure: unknown } | null;
}

/** Waits until every pipelined write of the frame has been answered; throws the first failure. */
async function settle(frame: TxFrame): Promise<void> {
  const l = frame.later;
  if (!l) return;
  while (l.sent.length > 0) await Promise.all(l.sent.splice(0));
  if (l.failure !== null) throw l.failure;
}

/** Connection-level failures of postgres.js, and SQLSTATE classes that say "try again". */
const TRANSIENT_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);
// 55000: "not currently accepting connections" (a database closed to connections for maintenance).
const TRANSIENT_SQLSTATE = /^(08|53|57P0[1-3]|40001|40P01|55P03|55000)/;

export function isTransientPgError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return TRANSIENT_CODES.has(code) || TRANSIENT_SQLSTATE.test(code);
}
