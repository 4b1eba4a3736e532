import { Readable } from 'node:stream';
import {
  bucketColumns, decodeNum, encodeNum, type HistogramList, type HistogramQuery, type QueryColumns, type QueryResult, type SeriesList, type SeriesQuery,
  type StepsQuery, type StepTimes,
} from '@gradwatch/shared';
import { badRequest, notFound } from '../http-errors.js';
import type { RunsService } from '../runs/runs.service.js';
import type { PointStore } from './point-store.js';
import type { SeriesRow } from './points.repo.js';

/** Buckets one query may return across all its series (maxPoints is "at most"). */
const MAX_BUCKETS = 200_000;
const MAX_SERIES_PER_QUERY = 500;
const EXPORT_POINTS_PER_CHUNK = 10_000;

async function* exportChunks(points: AsyncIterable<[number, number]>, csv: boolean, runId: string, name: string): AsyncGenerator<string> {
  let buf: string[] = [];
  let first = true;
  yield csv ? 'step,value\n' : `{"runId":${JSON.stringify(runId)},"series":${JSON.stringify(name)},"points":[`;
  for await (const [step, v] of points) {
    buf.push(csv ? `${step},${encodeNum(v)}\n` : `${first ? '' : ','}[${step},${JSON.stringify(encodeNum(v))}]`);
    first = false;
    if (buf.length >= EXPORT_POINTS_PER_CHUNK) {
      yield buf.join('');
      buf = [];
    }
  }
  yield buf.join('') + (csv ? '' : ']}');
}

export interface SeriesExport {
  filename: string;
  contentType: string;
  body: Readable;
}

/** A run's series for REST: listing, bucketed range queries, export, step times, histograms. */
export class PointsService {
  constructor(
    private readonly store: PointStore,
    private readonly runs: RunsService,
  ) {}

  private async seriesByName(runId: number): Promise<Map<string, SeriesRow>> {
    return new Map((await this.store.series(runId)).map((s) => [s.name, s]));
  }

  async list(uid: string): Promise<SeriesList> {
    return { series: await this.store.seriesInfo((await this.runs.require(uid)).id) };
  }

  async query(uid: string, q: SeriesQuery): Promise<QueryResult> {
    const run = await this.runs.require(uid);
    const names = [...new Set(q.series.split(',').map((s) => s.trim()).filter(Boolean))];
    if (names.length === 0) throw badRequest('series must name at least one series');
    if (names.length > MAX_SERIES_PER_QUERY) throw badRequest(`at most ${MAX_SERIES_PER_QUERY} series per query`);
    if (q.from !== undefined && q.to !== undefined && q.from > q.to) throw badRequest('from must not be after to');
    const known = await this.seriesByName(run.id);
    const missing = names.filter((n) => !known.has(n));
    if (missing.length) throw notFound(`run ${run.uid} has no series ${missing.slice(0, 5).join(', ')}`);
    const rows = names.map((n) => known.get(n) as SeriesRow);
    const { lo, hi } = await this.stepRange(run.id, q);
    if (lo === null || hi === null || lo > hi) {
      return { runId: run.uid, fromStep: null, toStep: null, series: rows.map((s) => ({ name: s.name, firstNonFiniteStep: s.firstNonFiniteStep, buckets: [] })) };
    }
    // The answer's size is bounded whatever is asked: at most MAX_BUCKETS buckets in all.
    const perSeries = Math.max(1, Math.min(q.maxPoints ?? 1000, Math.floor(MAX_BUCKETS / rows.length)));
    return { runId: run.uid, fromStep: lo, toStep: hi, series: await this.store.query(run.id, rows, lo, hi, perSeries) };
  }

  /** The same query, each series' buckets as parallel arrays. */
  async queryColumns(uid: string, q: SeriesQuery): Promise<QueryColumns> {
    const r = await this.query(uid, q);
    return { ...r, series: r.series.map((s) => bucketColumns(s.name, s.firstNonFiniteStep, s.buckets)) };
  }

  /** The steps a query covers: from/to are steps, seconds or epochs depending on the x axis. */
  private async stepRange(runId: number, q: SeriesQuery): Promise<{ lo: number | null; hi: number | null }> {
    const x = q.x ?? 'step';
    if (x !== 'step') return this.store.stepRangeFor(runId, x, q.from ?? -Number.MAX_VALUE, q.to ?? Number.MAX_VALUE);
    const ext = await this.store.extent(runId);
    return { lo: q.from !== undefined ? Math.ceil(q.from) : ext.lo, hi: q.to !== undefined ? Math.floor(q.to) : ext.hi };
  }

  /** Every point of one series, streamed in pieces: millions of points never sit in memory as one string. */
  async export(uid: string, name: string, format: 'json' | 'csv' = 'json'): Promise<SeriesExport> {
    const run = await this.runs.require(uid);
    const s = (await this.seriesByName(run.id)).get(name);
    if (!s) throw notFound(`run ${run.uid} has no series ${name}`);
    const csv = format === 'csv';
    return {
      filename: `${run.uid}-${s.name.replace(/[^A-Za-z0-9._-]+/g, '_')}.${csv ? 'csv' : 'json'}`,
      contentType: csv ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
      body: Readable.from(exportChunks(this.store.points(run.id, s), csv, run.uid, s.name)),
    };
  }

  /**
   * Every series' value at each stored step in lo..hi, as ingest announces them live: for a
   * server that learns of points another server committed.
   */
  async liveSteps(uid: string, lo: number, hi: number): Promise<Array<{ step: number; names: string[]; values: number[] }>> {
    const run = await this.runs.find(uid);
    if (!run) return [];
    const series = await this.store.series(run.id);
    const byStep = new Map<number, { names: string[]; values: number[] }>();
    // One bucket per step: each holds that step's one value.
    for (const r of await this.store.query(run.id, series, lo, hi, hi - lo + 1)) {
      for (const b of r.buckets) {
        if (b.count !== 1) continue;
        let at = byStep.get(b.fromStep);
        if (!at) byStep.set(b.fromStep, (at = { names: [], values: [] }));
        at.names.push(r.name);
        at.values.push(decodeNum(b.last));
      }
    }
    return [...byStep].sort((a, b) => a[0] - b[0]).map(([step, v]) => ({ step, ...v }));
  }

  async steps(uid: string, q: StepsQuery): Promise<StepTimes> {
    const run = await this.runs.require(uid);
    const rows = await this.store.stepTimes(run.id, q.from ?? 0, q.to ?? Number.MAX_SAFE_INTEGER, q.limit ?? 10000);
    return { steps: rows.map((r) => [r.step, r.time, r.epoch] as [number, number | null, number | null]) };
  }

  async histograms(uid: string, q: HistogramQuery): Promise<HistogramList> {
    const run = await this.runs.require(uid);
    const rows = await this.store.histograms(run.id, q.layer ?? null, q.of ?? null, q.from ?? 0, q.to ?? Number.MAX_SAFE_INTEGER, q.limit ?? 100);
    return { histograms: rows };
  }
}
