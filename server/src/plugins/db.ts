import fp from 'fastify-plugin';
import { openDb, transactor, type Db, type Transact } from '../storage/db.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The SQLite database, migrated; repositories are built on it by the domain plugin. */
    db: Db;
    /** One write transaction (a savepoint when nested). */
    transact: Transact;
  }
}

/** The SQLite database, migrated on open. */
export default fp(
  async (app) => {
    const db = openDb(app.config.dbFile, app.config.synchronous);
    app.decorate('db', db);
    app.decorate('transact', transactor(db));
    app.addHook('onClose', async () => {
      db.$client.close();
    });
  },
  { name: 'db', dependencies: ['config'] },
);
