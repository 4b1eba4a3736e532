import type { RunDetail, SeriesInfo } from '@gradwatch/shared';
import { api } from '../api';
import { RunSeries, type Live } from './run-series.svelte';

export interface ComparedRun {
  detail: RunDetail;
  info: SeriesInfo[];
  series: RunSeries;
}

/** Several runs overlaid: one RunSeries per run, all showing the same series names. */
export class CompareStore {
  runs = $state.raw<ComparedRun[]>([]);
  errors = $state.raw<string[]>([]);
  loading = $state(false);
  private seq = 0;

  constructor(private readonly live: Live, readonly maxPoints = 600) {}

  async load(ids: readonly string[]): Promise<void> {
    const seq = ++this.seq;
    this.loading = true;
    const res = await Promise.allSettled(ids.map(async (id) => ({ detail: await api.run(id), info: await api.series(id) })));
    if (seq !== this.seq) return;
    const runs: ComparedRun[] = [];
    const errors: string[] = [];
    res.forEach((r, i) => {
      if (r.status === 'fulfilled') runs.push({ ...r.value, series: new RunSeries(this.live, { maxPoints: this.maxPoints }) });
      else errors.push(`${ids[i]}: ${(r.reason as Error).message}`);
    });
    for (const r of this.runs) r.series.close();
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

  /** The longest run's steps: every chart's x axis spans them. */
  get extent(): [number, number] | null {
    const last = Math.max(-1, ...this.runs.map((r) => r.detail.lastStep ?? -1));
    return last >= 0 ? [0, last] : null;
  }

  show(names: readonly string[]): void {
    for (const r of this.runs) r.series.show(r.detail.id, names, r.info);
  }

  zoom(range: [number, number] | null): Promise<void> {
    return Promise.all(this.runs.map((r) => r.series.zoom(range))).then(() => undefined);
  }

  get range(): [number, number] | null {
    return this.runs[0]?.series.range ?? null;
  }

  close(): void {
    this.seq++;
    for (const r of this.runs) r.series.close();
    this.runs = [];
  }
}
