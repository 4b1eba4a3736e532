import fp from 'fastify-plugin';
import { AlertsRepo } from '../alerts/alerts.repo.js';
import { openDb, type Db } from '../storage/db.js';
import { PointsRepo } from '../storage/points.repo.js';
import { PointStore } from '../storage/points.service.js';
import { RunsRepo } from '../storage/runs.repo.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Db;
    repos: { runs: RunsRepo; points: PointsRepo; alerts: AlertsRepo };
    pointStore: PointStore;
  }
}

/** The SQLite database (migrated on open), its repositories and the point store. */
export default fp(
  async (app) => {
    const db = openDb(app.config.dbFile, app.config.synchronous);
    const points = new PointsRepo(db);
    app.decorate('db', db);
    app.decorate('repos', { runs: new RunsRepo(db), points, alerts: new AlertsRepo(db) });
    app.decorate('pointStore', new PointStore(points));
    app.addHook('onClose', async () => {
      db.$client.close();
    });
  },
  { name: 'db', dependencies: ['config'] },
);
