import type { RunDetail, SeriesInfo } from '@gradwatch/shared';
import { api } from '../api';
import type { LiveSocket } from '../socket';
import { RunSeries } from './run-series.svelte';

export interface ComparedRun {
  detail: RunDetail;
  info: SeriesInfo[];
  series: RunSeries;
}

/** Several runs overlaid: one RunSeries per run, all wanting the same series names. */
export class CompareStore {
  runs = $state<ComparedRun[]>([]);
  errors = $state<string[]>([]);
  loading = $state(false);

  constructor(readonly maxPoints = 600) {}

  async load(ids: readonly string[]): Promise<void> {
    this.loading = true;
    const res = await Promise.allSettled(ids.map(async (id) => ({ detail: await api.run(id), info: await api.series(id) })));
    const runs: ComparedRun[] = [];
    const errors: string[] = [];
    res.forEach((r, i) => {
      if (r.status === 'fulfilled') runs.push({ ...r.value, series: new RunSeries(r.value.detail.id, this.maxPoints) });
      else errors.push(`${ids[i]}: ${(r.reason as Error).message}`);
    });
    this.runs = runs;
    this.errors = errors;
    this.loading = false;
  }

  /** Every series name any of the runs has: shared ones first, scalars before per-layer stats. */
  get seriesNames(): string[] {
    const count: Record<string, number> = {};
    for (const r of this.runs) for (const s of r.info) count[s.name] = (count[s.name] ?? 0) + 1;
    const rank = (n: string) => (n.startsWith('layer/') ? 3 : n.startsWith('inputs/') || n.startsWith('derived/') ? 2 : n.startsWith('eval/') ? 1 : 0);
    return Object.entries(count)
      .sort((a, b) => b[1] - a[1] || rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]))
      .map(([n]) => n);
  }

  want(names: readonly string[]): Promise<void> {
    return Promise.all(this.runs.map((r) => r.series.want(names, r.info))).then(() => undefined);
  }

  zoom(range: [number, number] | null): Promise<void> {
    return Promise.all(this.runs.map((r) => r.series.zoom(range))).then(() => undefined);
  }

  get version(): number {
    return this.runs.reduce((a, r) => a + r.series.version, 0);
  }

  get range(): [number, number] | null {
    return this.runs[0]?.series.range ?? null;
  }

  follow(live: LiveSocket, names: readonly string[]): () => void {
    const offs = this.runs.map((r) => r.series.follow(live, names));
    return () => offs.forEach((off) => off());
  }
}
