/* eslint-disable svelte/prefer-svelte-reactivity -- the buffers and their bookkeeping are
   deliberately plain: charts read thousands of bins per redraw, and `version` says when to. */
import type { LivePoints, SeriesInfo } from '@gradwatch/shared';
import { api } from '../api';
import { BinBuffer, fromBucket, type Bin } from '../buckets';
import { mark } from '../perf';
import type { LiveSocket } from '../socket';

export type Query = typeof api.query;

/**
 * The series of one run that a view shows. Loads bucketed envelopes, appends live points to
 * bounded buffers without refetching, and re-queries at full fidelity when zoomed. The buffers
 * are plain objects (a chart reads thousands of bins; deep reactivity would only cost):
 * `version` is the signal that they changed.
 */
export class RunSeries {
  version = $state(0);
  loading = $state(false);
  error = $state<string | null>(null);
  /** Zoomed step range; null is the whole run. */
  range = $state<[number, number] | null>(null);
  /** Step of the first NaN/±Inf per series, from the server's series list and live data. */
  firstNonFinite = new Map<string, number>();

  private buffers = new Map<string, BinBuffer>();
  private desired: string[] = [];
  private known = new Set<string>();
  /** Asked for (loaded or on the way): a second want() does not query them again. */
  private requested = new Set<string>();
  private inflight: AbortController | null = null;
  /** Live points that arrive while a query is out: replayed on top of its answer. */
  private held: LivePoints[] | null = null;
  private pending = 0;

  constructor(
    readonly runId: string,
    /** Buckets per series: about one per pixel pair of a chart; zooming brings the detail. */
    readonly maxPoints = 600,
    private readonly query: Query = api.query,
  ) {}

  bins(name: string): readonly Bin[] {
    return this.buffers.get(name)?.all ?? [];
  }

  has(name: string): boolean {
    return (this.buffers.get(name)?.length ?? 0) > 0;
  }

  get names(): readonly string[] {
    return this.desired;
  }

  /** Sets what the view wants and what exists; loads whatever is wanted, exists and is not loaded. */
  async want(desired: readonly string[], info: readonly SeriesInfo[]): Promise<void> {
    this.desired = [...new Set(desired)];
    for (const s of info) {
      this.known.add(s.name);
      if (s.firstNonFiniteStep !== null && !this.firstNonFinite.has(s.name)) this.firstNonFinite.set(s.name, s.firstNonFiniteStep);
    }
    const missing = this.desired.filter((n) => this.known.has(n) && !this.requested.has(n));
    if (missing.length) await this.fetch(missing, false);
  }

  zoom(range: [number, number] | null): Promise<void> {
    this.range = range;
    return this.reload();
  }

  /** Everything again (after a reconnect, or a zoom). */
  reload(): Promise<void> {
    return this.fetch(this.desired.filter((n) => this.known.has(n)), true);
  }

  private async fetch(names: string[], replaceAll: boolean): Promise<void> {
    for (const n of names) this.requested.add(n);
    if (replaceAll) this.inflight?.abort();
    const ctl = new AbortController();
    if (replaceAll) this.inflight = ctl;
    this.held ??= [];
    this.pending++;
    this.loading = true;
    this.error = null;
    try {
      const r = this.range;
      const res = await this.query(this.runId, names, {
        maxPoints: this.maxPoints, signal: ctl.signal,
        ...(r ? { from: r[0], to: r[1] } : {}),
      });
      if (replaceAll) for (const b of this.buffers.values()) b.clear();
      mark(`gw:series:${this.runId}`);
      for (const s of res) {
        this.buffer(s.name).replace(s.buckets.map(fromBucket));
        if (s.firstNonFiniteStep !== null) this.firstNonFinite.set(s.name, s.firstNonFiniteStep);
      }
    } catch (e) {
      if ((e as Error).name !== 'AbortError') {
        this.error = (e as Error).message;
        // Let a later want() try them again.
        for (const n of names) this.requested.delete(n);
      }
    } finally {
      if (--this.pending === 0) {
        const held = this.held ?? [];
        this.held = null;
        for (const m of held) this.append(m);
        this.loading = false;
      }
      this.version++;
    }
  }

  private buffer(name: string): BinBuffer {
    let b = this.buffers.get(name);
    if (!b) this.buffers.set(name, (b = new BinBuffer(this.maxPoints * 2)));
    return b;
  }

  /** Applies a live frame; true when something on screen changed. */
  append(m: LivePoints): boolean {
    if (m.runId !== this.runId) return false;
    if (this.held) {
      this.held.push(m);
      return false;
    }
    // A zoomed view is a fixed window: new steps would fall outside it.
    if (this.range) return false;
    let changed = false;
    for (const [name, pts] of Object.entries(m.series)) {
      if (!this.desired.includes(name)) continue;
      const buf = this.buffer(name);
      for (const [step, v] of pts) {
        if (buf.append(step, v)) {
          changed = true;
          if (typeof v === 'string' && !this.firstNonFinite.has(name)) this.firstNonFinite.set(name, step);
        }
      }
      this.known.add(name);
      this.requested.add(name);
    }
    if (changed) this.version++;
    return changed;
  }

  /** Follows the run live: subscribes to the wanted series; a reconnect refetches the gap. */
  follow(live: LiveSocket, names: readonly string[]): () => void {
    const offSub = live.subscribe([this.runId], names);
    const offPts = live.on('points', (m) => this.append(m));
    const offOpen = live.on('open', ({ reconnect }) => {
      if (reconnect) void this.reload();
    });
    return () => {
      offSub();
      offPts();
      offOpen();
      this.inflight?.abort();
    };
  }
}
