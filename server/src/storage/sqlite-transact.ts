import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import type { Transact } from './backend.js';

/** Both kinds of write transaction on one connection (Backend.transact and Backend.transactBatch). */
export interface SqliteTransactors {
  transact: Transact;
  transactBatch: Transact;
}

/**
 * Write transactions on the one SQLite connection, for async code. Top-level transactions run
 * one at a time (SQLite has one writer anyway); a transact() inside another, in the same async
 * context, is a savepoint, except inside a transactBatch(), where it is part of the whole.
 * better-sqlite3's own transaction() cannot hold an await.
 */
export function sqliteTransactors(c: Database.Database): SqliteTransactors {
  // Timers started inside a transaction inherit its context after it ended: `open` tells.
  const depth = new AsyncLocalStorage<{ d: number; open: boolean; whole: boolean }>();
  let tail: Promise<unknown> = Promise.resolve();

  const nested = async <T>(d: number, fn: () => Promise<T>): Promise<T> => {
    const name = `gw_sp${d}`;
    c.exec(`SAVEPOINT ${name}`);
    const frame = { d: d + 1, open: true, whole: false };
    try {
      const out = await depth.run(frame, fn);
      c.exec(`RELEASE ${name}`);
      return out;
    } catch (e) {
      // SQLite may have rolled the whole transaction back by itself (disk full): nothing to undo here.
      if (c.inTransaction) {
        c.exec(`ROLLBACK TO ${name}`);
        c.exec(`RELEASE ${name}`);
      }
      throw e;
    } finally {
      frame.open = false;
    }
  };

  const top = async <T>(fn: () => Promise<T>, whole: boolean): Promise<T> => {
    c.exec('BEGIN IMMEDIATE');
    const frame = { d: 1, open: true, whole };
    try {
      const out = await depth.run(frame, fn);
      c.exec('COMMIT');
      return out;
    } catch (e) {
      if (c.inTransaction) c.exec('ROLLBACK');
      throw e;
    } finally {
      frame.open = false;
    }
  };

  const transactor = (whole: boolean): Transact => <T>(fn: () => Promise<T>): Promise<T> => {
    const cur = depth.getStore();
    if (cur?.open) return cur.whole ? fn() : nested(cur.d, fn);
    const run = tail.then(() => top(fn, whole));
    tail = run.catch(() => undefined);
    return run;
  };
  return { transact: transactor(false), transactBatch: transactor(true) };
}
