/* eslint-disable svelte/prefer-svelte-reactivity -- the bookkeeping sets and maps are never
   rendered; only the buffers (a SvelteMap of state-holding BinBuffers) are. */
import type { Num, SeriesInfo } from '@gradwatch/shared';
import { SvelteMap } from 'svelte/reactivity';
import { api } from '../api';
import { binsOf, type Bin } from '../buckets';
import { mark } from '../perf';
import type { LiveSocket } from '../socket';
import { BinBuffer } from './bin-buffer.svelte';

export type Query = typeof api.query;
export type Live = Pick<LiveSocket, 'on' | 'subscribe' | 'whenSynced'>;

/** How long a load waits for the live subscription before it goes ahead without it. */
export const SYNC_WAIT_MS = 3000;

type Point = readonly [number, Num];

/**
 * The series of one run that a view shows, kept current. It subscribes first and loads once the
 * server holds the subscription, so no point committed in between is missed; live points that
 * arrive while a series loads are held and merged by step into the answer. Buffers are bounded
 * and expose their bins as state: a chart reading `bins(name)` redraws when they change.
 * Zooming re-queries the range at full fidelity (and ignores live points while zoomed).
 */
export class RunSeries {
  loading = $state(false);
  error = $state<string | null>(null);
  /** Zoomed step range; null is the whole run. */
  range = $state.raw<[number, number] | null>(null);

  private readonly buffers = new SvelteMap<string, BinBuffer>();
  private runId: string | null = null;
  private desired = new Set<string>();
  private known = new Set<string>();
  /** Loaded or on the way: a second show() does not query them again. */
  private requested = new Set<string>();
  /** Live points of series whose load is out, replayed on top of its answer. */
  private held = new Map<string, Point[]>();
  /** The newest load of each series: an older answer never overwrites a newer one. */
  private latest = new Map<string, number>();
  private controllers = new Set<AbortController>();
  private loads = 0;
  private pending = 0;
  /** Bumped when the store moves to another run (or closes): late answers of the old one are dropped. */
  private generation = 0;
  private subKey = '';
  private unsubscribe: (() => void) | null = null;
  private listeners: Array<() => void> = [];
  /** A load went ahead without the live subscription: the socket's next open reloads. */
  private unsynced = false;

  /** Buckets per series: about one per pixel pair of a chart; zooming brings the detail. */
  readonly maxPoints: number;
  private readonly query: Query;
  private readonly syncWaitMs: number;

  constructor(private readonly live: Live, opts: { maxPoints?: number; query?: Query; syncWaitMs?: number } = {}) {
    this.maxPoints = opts.maxPoints ?? 600;
    this.query = opts.query ?? api.query;
    this.syncWaitMs = opts.syncWaitMs ?? SYNC_WAIT_MS;
  }

  bins(name: string): readonly Bin[] {
    return this.buffers.get(name)?.bins ?? [];
  }

  /**
   * Shows these series of this run: subscribes to them and loads whatever exists and is not
   * loaded yet. Cheap to call again with the same arguments. `initialRange` zooms the first
   * load of a run (an alert's neighbourhood).
   */
  show(runId: string, desired: readonly string[], info: readonly SeriesInfo[], initialRange: [number, number] | null = null): void {
    if (runId !== this.runId) this.reset(runId, initialRange);
    this.desired = new Set(desired);
    for (const s of info) this.known.add(s.name);
    this.follow(runId);
    const missing = [...this.desired].filter((n) => this.known.has(n) && !this.requested.has(n));
    if (missing.length) void this.load(missing, false);
  }

  zoom(range: [number, number] | null): Promise<void> {
    this.range = range;
    return this.reload();
  }

  /** Everything again (after a reconnect, or a zoom). */
  reload(): Promise<void> {
    return this.load([...this.desired].filter((n) => this.known.has(n)), true);
  }

  close(): void {
    this.reset(null, null);
    for (const off of this.listeners) off();
    this.listeners = [];
  }

  private reset(runId: string | null, range: [number, number] | null): void {
    this.generation++;
    for (const c of this.controllers) c.abort();
    this.controllers.clear();
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.subKey = '';
    this.buffers.clear();
    this.known.clear();
    this.requested.clear();
    this.held.clear();
    this.latest.clear();
    this.pending = 0;
    this.unsynced = false;
    this.runId = runId;
    this.range = range;
    this.loading = false;
    this.error = null;
  }

  private follow(runId: string): void {
    if (this.listeners.length === 0) {
      this.listeners.push(
        this.live.on('points', (m) => {
          if (m.runId === this.runId) this.onPoints(m.series);
        }),
        this.live.on('open', ({ reconnect }) => {
          // Points may have been missed while the socket was down.
          if (reconnect || this.unsynced) void this.reload();
        }),
      );
    }
    const key = [...this.desired].sort().join('\n');
    if (key === this.subKey) return;
    // The new subscription first, then the old one goes: the merged filter never drops a series.
    const prev = this.unsubscribe;
    this.unsubscribe = this.live.subscribe([runId], [...this.desired]);
    prev?.();
    this.subKey = key;
  }

  private onPoints(series: Record<string, Point[]>): void {
    // A zoomed view is a fixed window: new steps would fall outside it.
    if (this.range) return;
    for (const [name, pts] of Object.entries(series)) {
      if (!this.desired.has(name)) continue;
      // A series that began after the series list was read: load what came before these points.
      if (!this.requested.has(name)) {
        this.known.add(name);
        void this.load([name], false);
      }
      const held = this.held.get(name);
      if (held) held.push(...pts);
      else this.buffer(name).append(pts);
    }
  }

  private buffer(name: string): BinBuffer {
    let b = this.buffers.get(name);
    if (!b) this.buffers.set(name, (b = new BinBuffer(this.maxPoints * 2)));
    return b;
  }

  private async load(names: string[], replace: boolean): Promise<void> {
    const runId = this.runId;
    if (runId === null || names.length === 0) return;
    const gen = this.generation;
    const mine = ++this.loads;
    for (const n of names) {
      this.requested.add(n);
      this.latest.set(n, mine);
      if (!this.held.has(n)) this.held.set(n, []);
    }
    const ctl = new AbortController();
    this.controllers.add(ctl);
    this.pending++;
    this.loading = true;
    this.error = null;
    let answer: Awaited<ReturnType<Query>> | null = null;
    try {
      if (!(await this.live.whenSynced(this.syncWaitMs))) this.unsynced = true;
      if (gen !== this.generation) return;
      const r = this.range;
      answer = await this.query(runId, names, { maxPoints: this.maxPoints, signal: ctl.signal, ...(r ? { from: r[0], to: r[1] } : {}) });
    } catch (e) {
      if (gen === this.generation && (e as Error).name !== 'AbortError') {
        this.error = (e as Error).message;
        // Let a later show() try them again.
        for (const n of names) if (this.latest.get(n) === mine) this.requested.delete(n);
      }
    } finally {
      this.controllers.delete(ctl);
      if (gen === this.generation) {
        this.settle(names, mine, answer, replace);
        if (--this.pending === 0) this.loading = false;
      }
    }
  }

  /** Puts an answer in place and merges the points held meanwhile, for the series it is newest for. */
  private settle(names: readonly string[], mine: number, answer: Awaited<ReturnType<Query>> | null, replace: boolean): void {
    const got = new Map((answer ?? []).map((s) => [s.name, s]));
    for (const n of names) {
      if (this.latest.get(n) !== mine) continue;
      const held = this.held.get(n) ?? [];
      this.held.delete(n);
      if (!answer) continue;
      const s = got.get(n);
      if (s) this.buffer(n).replace(binsOf(s));
      else if (replace) this.buffers.get(n)?.clear();
      if (held.length && !this.range) this.buffer(n).append(held);
    }
    if (answer) mark(`gw:series:${this.runId ?? ''}`);
  }
}
