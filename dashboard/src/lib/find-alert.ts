import type { Alert } from '@gradwatch/shared';
import { api } from './api';

/**
 * One alert by id. The API has no GET /alerts/:id, so this pages the run's alerts (newest first,
 * cursor = ids below) until it finds it.
 */
export async function findAlert(runId: string, id: number, page = api.runAlerts): Promise<Alert | null> {
  let cursor: string | undefined = String(id + 1);
  for (let i = 0; i < 20 && cursor !== undefined; i++) {
    const p = await page(runId, { cursor, limit: 500 });
    const hit = p.alerts.find((a) => a.id === id);
    if (hit) return hit;
    if (p.alerts.some((a) => a.id < id)) return null;
    cursor = p.nextCursor ?? undefined;
  }
  return null;
}

/** Evidence as rows; one level of nesting is spread into "outer.inner" keys. */
export function evidenceRows(ev: Record<string, unknown>): Array<[string, unknown]> {
  const rows: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(ev)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) rows.push([`${k}.${k2}`, v2]);
    } else rows.push([k, v]);
  }
  return rows;
}
