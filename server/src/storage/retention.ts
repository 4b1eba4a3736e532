import type { FastifyInstance } from 'fastify';
import { deleteRun } from '../routes/runs.js';

/**
 * Deletes every run whose last activity (last message, or its end) is older than `days`, with
 * all its points, histograms, alerts and events, as DELETE /api/v1/runs/:id does. A run with a
 * connected job is kept whatever its age. Returns how many runs were deleted.
 */
export function pruneOldRuns(app: FastifyInstance, days: number, now = Date.now()): number {
  const cutoff = new Date(now - days * 86_400_000).toISOString();
  const rows = app.db.$client
    .prepare('SELECT uid FROM runs WHERE max(last_seen_at, coalesce(ended_at, last_seen_at)) < ? ORDER BY id')
    .all(cutoff) as Array<{ uid: string }>;
  let n = 0;
  for (const { uid } of rows) {
    if (app.ingest.isConnected(uid)) continue;
    if (deleteRun(app, uid)) n++;
  }
  return n;
}
