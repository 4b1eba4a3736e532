// Scaffolding until the PostgreSQL point store lands (helper B replaces this file).
import type { PgDb } from '../storage/pg.js';
import type { PointStore } from './point-store.js';

export function createPgPointStore(_db: PgDb): PointStore {
  throw new Error('the PostgreSQL point store is not built yet');
}
