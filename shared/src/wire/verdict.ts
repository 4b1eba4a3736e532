import type { Diagnosis } from '../alert.js';

/**
 * The verdict a user is shown first: the best-ranked warning or critical diagnosis (info ones are
 * hints), or null. The runs list, webhooks, the dashboard and the clients all mean this by "the
 * run's diagnosis".
 */
export const topVerdict = (ds: readonly Diagnosis[]): Diagnosis | null => ds.find((d) => d.severity !== 'info') ?? null;
