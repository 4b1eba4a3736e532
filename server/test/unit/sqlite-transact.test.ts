import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/storage/db.js';
import { sqliteTransactors } from '../../src/storage/sqlite-transact.js';
import { removeDir, tempDir } from '../helpers.js';

describe('SQLite transactions for async code', () => {
  it('nests as savepoints, rolls back a failed inner part alone, and serialises top-level ones', async () => {
    const dir = tempDir();
    const db = openDb(`${dir}/t.db`);
    const c = db.$client;
    c.exec('CREATE TABLE t (x INTEGER)');
    const transact = sqliteTransactors(c).transact;
    const rows = () => (c.prepare('SELECT x FROM t ORDER BY x').all() as Array<{ x: number }>).map((r) => r.x);
    await transact(async () => {
      c.prepare('INSERT INTO t VALUES (1)').run();
      await transact(async () => {
        c.prepare('INSERT INTO t VALUES (2)').run();
        throw new Error('inner fault');
      }).catch(() => undefined);
      c.prepare('INSERT INTO t VALUES (3)').run();
    });
    expect(rows()).toEqual([1, 3]);
    // Two at once: the second waits for the first, never joins it.
    await Promise.all([
      transact(async () => {
        c.prepare('INSERT INTO t VALUES (4)').run();
        await new Promise((r) => setTimeout(r, 20));
        c.prepare('INSERT INTO t VALUES (5)').run();
      }),
      transact(async () => {
        expect(rows()).toContain(5);
        c.prepare('INSERT INTO t VALUES (6)').run();
      }),
    ]);
    expect(rows()).toEqual([1, 3, 4, 5, 6]);
    c.close();
    removeDir(dir);
  });

  it('a timer started inside a transaction runs its own transaction later, not a savepoint of the ended one', async () => {
    const dir = tempDir();
    const db = openDb(`${dir}/t.db`);
    const c = db.$client;
    c.exec('CREATE TABLE t (x INTEGER)');
    const transact = sqliteTransactors(c).transact;
    let later: Promise<void> = Promise.resolve();
    await transact(async () => {
      c.prepare('INSERT INTO t VALUES (1)').run();
      later = new Promise<void>((resolve, reject) => {
        setImmediate(() => void transact(async () => void c.prepare('INSERT INTO t VALUES (2)').run()).then(resolve, reject));
      });
    });
    await later;
    expect(c.inTransaction).toBe(false);
    expect((c.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).toBe(2);
    c.close();
    removeDir(dir);
  });
});
