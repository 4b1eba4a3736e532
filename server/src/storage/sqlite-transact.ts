import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import type { Transact } from './backend.js';

/**
 * Write transactions on the one SQLite connection, for async code. Top-level transactions run
 * one at a time (SQLite has one writer anyway); a transact() inside another, in the same async
 * context, is a savepoint. better-sqlite3's own transaction() cannot hold an await.
 */
export function sqliteTransactor(c: Database.Database): Transact {
  const depth = new AsyncLocalStorage<number>();
  let tail: Promise<unknown> = Promise.resolve();

  const nested = async <T>(d: number, fn: () => Promise<T>): Promise<T> => {
    const name = `gw_sp${d}`;
    c.exec(`SAVEPOINT ${name}`);
    try {
      const out = await depth.run(d + 1, fn);
      c.exec(`RELEASE ${name}`);
      return out;
    } catch (e) {
      // SQLite may have rolled the whole transaction back by itself (disk full): nothing to undo here.
      if (c.inTransaction) {
        c.exec(`ROLLBACK TO ${name}`);
        c.exec(`RELEASE ${name}`);
      }
      throw e;
    }
  };

  const top = async <T>(fn: () => Promise<T>): Promise<T> => {
    c.exec('BEGIN IMMEDIATE');
    try {
      const out = await depth.run(1, fn);
      c.exec('COMMIT');
      return out;
    } catch (e) {
      if (c.inTransaction) c.exec('ROLLBACK');
      throw e;
    }
  };

  return <T>(fn: () => Promise<T>): Promise<T> => {
    const d = depth.getStore();
    if (d !== undefined) return nested(d, fn);
    const run = tail.then(() => top(fn));
    tail = run.catch(() => undefined);
    return run;
  };
}
