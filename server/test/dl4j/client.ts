/** Posts as RemoteUIStatsStorageRouter does: one JSON envelope per POST, DL4J's headers. */
import { buildStatic, buildUpdate, mlnParams, series, type ReportSpec } from './reports.js';
import { CLASSES, encodeMetaData, encodeStaticInfo, encodeUpdate, envelope, type StaticIn } from './sbe-encoder.js';

export interface Answer {
  status: number;
  body: { runId?: string; stored?: number; step?: number; note?: string; message?: string; statusCode?: number };
}

export async function post(base: string, body: string, query = ''): Promise<Answer> {
  const res = await fetch(`${base}/remoteReceive${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0', accept: 'text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2' },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Answer['body']) : {} };
}

export function metaData(sessionId: string, workerId: string, time: number, gen: keyof typeof CLASSES = 'beta7'): string {
  const bytes = encodeMetaData({ timeStamp: time, sessionId, typeId: 'StatsListener', workerId, initTypeClass: CLASSES[gen].StaticInfo, updateTypeClass: CLASSES[gen].Update });
  return envelope('MetaData', bytes, gen);
}

export function staticInfo(sessionId: string, workerId: string, over: Partial<StaticIn> = {}, gen: keyof typeof CLASSES = 'beta7'): string {
  return envelope('StaticInfo', encodeStaticInfo(buildStatic({ sessionId, workerId, ...over }), { trailingZeros: 16 }), gen);
}

/** The report of the 4 → 8 → 3 network at `it`, with memory, GC and activations, as StatsListener fills it. */
export function reportSpec(sessionId: string, workerId: string, it: number, time: number, score = 1.1 - it * 0.01): ReportSpec {
  return {
    time, iteration: it, score, sessionId, workerId,
    params: mlnParams(it),
    acts: { input: series(it * 3 + 100, 24, 1), '0': series(it * 3 + 101, 32, 1, 0.8) },
    memory: [[0, (200 + it) * 2 ** 20], [1, 2 ** 32], [2, 64 * 2 ** 20], [3, 2 ** 33]],
    performance: { runtimeMs: 100 * it, examples: 32 * it, minibatches: it, examplesPerSec: it ? 320 : 0, minibatchesPerSec: it ? 10 : 0 },
    gc: it > 0 ? [{ name: 'G1 Young Generation', count: it % 3, timeMs: it % 5 }] : [],
  };
}

export function update(spec: ReportSpec, gen: keyof typeof CLASSES = 'beta7', trailingZeros = 32): string {
  return envelope('Update', encodeUpdate(buildUpdate(spec), { trailingZeros }), gen);
}
