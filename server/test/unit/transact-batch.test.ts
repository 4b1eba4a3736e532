/**
 * Backend.transactBatch on both stores: transact() inside it takes no savepoint, a failure
 * anywhere fails the whole, and on PostgreSQL writes given to later() are pipelined (they
 * return before they are done, the transaction waits for them, the first failure is the one
 * reported). PostgreSQL cases need GRADWATCH_TEST_PG_URL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb } from '../../src/storage/db.js';
import { PgDb } from '../../src/storage/pg.js';
import { sqliteTransactors } from '../../src/storage/sqlite-transact.js';
import { removeDir, tempDir } from '../helpers.js';
import { freshDatabase, type FreshDatabase } from '../reliability/pg-database.js';

const PG_URL = process.env.GRADWATCH_TEST_PG_URL;

describe('transactBatch on SQLite', () => {
  it('nested transact() is part of the whole: its failure rolls back everything before it too', async () => {
    const dir = tempDir();
    const c = openDb(`${dir}/t.db`).$client;
    c.exec('CREATE TABLE t (x INTEGER)');
    const { transact, transactBatch } = sqliteTransactors(c);
    const rows = () => (c.prepare('SELECT x FROM t ORDER BY x').all() as Array<{ x: number }>).map((r) => r.x);
    await transactBatch(async () => {
      c.prepare('INSERT INTO t VALUES (1)').run();
      await transact(async () => void c.prepare('INSERT INTO t VALUES (2)').run());
    });
    expect(rows()).toEqual([1, 2]);
    const fault = new Error('poisoned');
    await expect(
      transactBatch(async () => {
        c.prepare('INSERT INTO t VALUES (3)').run();
        await transact(async () => {
          c.prepare('INSERT INTO t VALUES (4)').run();
          // No savepoint was taken: had there been one, SQLite would refuse this name.
          expect(() => c.exec('RELEASE gw_sp1')).toThrow(/no such savepoint/);
          throw fault;
        });
      }),
    ).rejects.toBe(fault);
    expect(rows()).toEqual([1, 2]);
    expect(c.inTransaction).toBe(false);
    c.close();
    removeDir(dir);
  });
});

describe.skipIf(!PG_URL)('transactBatch on PostgreSQL', () => {
  let fresh: FreshDatabase;
  let db: PgDb;
  const rows = async () => (await db.sql<Array<{ x: number }>>`SELECT x FROM t ORDER BY x`).map((r) => r.x);

  beforeAll(async () => {
    fresh = await freshDatabase(PG_URL as string, 'gw_tx_batch');
    db = new PgDb(fresh.url, { max: 2 });
    await db.sql`CREATE TABLE t (x int PRIMARY KEY)`;
  });
  afterAll(async () => {
    await db.close();
    await fresh.drop();
  });

  it('later() returns before the write is done; the commit waits for every write', async () => {
    await db.sql`TRUNCATE t`;
    let returnedBefore = 0;
    await db.transactBatch(async () => {
      for (let i = 0; i < 200; i++) {
        let done = false;
        await db.later(db.q()`INSERT INTO t VALUES (${i})`.then(() => void (done = true)));
        if (!done) returnedBefore++;
      }
    });
    // Pipelined: later() did not wait for the server's answers.
    expect(returnedBefore).toBeGreaterThan(100);
    expect(await rows()).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('a failed pipelined write fails the whole transaction with its own error, not the aborted-transaction ones after it', async () => {
    await db.sql`TRUNCATE t`;
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const err = await db
        .transactBatch(async () => {
          await db.later(db.q()`INSERT INTO t VALUES (1)`);
          await db.later(db.q()`INSERT INTO t VALUES (1)`);
          for (let i = 2; i < 20; i++) await db.later(db.q()`INSERT INTO t VALUES (${i})`);
          // A savepoint-style transact inside takes none and runs in the whole.
          await db.transact(async () => db.later(db.q()`INSERT INTO t VALUES (100)`));
        })
        .catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('23505');
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(await rows()).toEqual([]);
    // The connection went back to the pool usable.
    await db.transactBatch(async () => db.later(db.q()`INSERT INTO t VALUES (7)`));
    expect(await rows()).toEqual([7]);
  });

  it('outside transactBatch later() waits, and transact() nests savepoints as before', async () => {
    await db.sql`TRUNCATE t`;
    await db.transact(async () => {
      await db.later(db.q()`INSERT INTO t VALUES (1)`);
      await db.transact(async () => db.later(db.q()`INSERT INTO t VALUES (1)`)).catch(() => undefined);
      await db.later(db.q()`INSERT INTO t VALUES (2)`);
    });
    expect(await rows()).toEqual([1, 2]);
    await expect(db.later(db.sql`INSERT INTO t VALUES (2)`)).rejects.toMatchObject({ code: '23505' });
  });
});
