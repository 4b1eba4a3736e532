import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import type { Transact } from './backend.js';

/**
 * Write transactions on the one SQLite connection, for async code. Top-level transactions run
 * one at a time (SQLite has one writer anyway); a transact() inside another, in the same async
 * context, is a savepoint. better-sqlite3's own transaction() cannot hold an await.
 */
export function sqliteTransactor(c: Database.Database): Transact {
  // Timers started inside a transaction inherit its context after it ended: `open` tells.
  const depth = new AsyncLocalStorage<{ d: number; open: boolean }>();
  let tail: Promise<unknown> = Promise.resolve();

  const nested = async <T>(d: number, fn: () => Promise<T>): Promise<T> => {
    const name = `gw_sp${d}`;
    c.exec(`SAVEPOINT ${name}`);
    const frame = { d: d + 1, open: true };
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

  const top = async <T>(fn: () => Promise<T>): Promise<T> => {
    c.exec('BEGIN IMMEDIATE');
    const frame = { d: 1, open: true };
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

  return <T>(fn: () => Promise<T>): Promise<T> => {
    const cur = depth.getStore();
    if (cur?.open) return nested(cur.d, fn);
    const run = tail.then(() => top(fn));
    tail = run.catch(() => undefined);
    return run;
  };
}
