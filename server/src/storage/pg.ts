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
  private readonly tx = new AsyncLocalStorage<{ sql: PgTx; open: boolean }>();

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

  /** One transaction; a savepoint when called inside one. */
  readonly transact: Transact = async <T>(fn: () => Promise<T>): Promise<T> => {
    const cur = this.tx.getStore();
    const within = async (t: PgTx): Promise<T> => {
      const frame = { sql: t, open: true };
      try {
        return await this.tx.run(frame, fn);
      } finally {
        frame.open = false;
      }
    };
    if (cur?.open) return (await cur.sql.savepoint(within)) as T;
    return (await this.sql.begin(within)) as T;
  };

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

/** Connection-level failures of postgres.js, and SQLSTATE classes that say "try again". */
const TRANSIENT_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);
// 55000: "not currently accepting connections" (a database closed to connections for maintenance).
const TRANSIENT_SQLSTATE = /^(08|53|57P0[1-3]|40001|40P01|55P03|55000)/;

export function isTransientPgError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return TRANSIENT_CODES.has(code) || TRANSIENT_SQLSTATE.test(code);
}
