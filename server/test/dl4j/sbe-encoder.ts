/**
 * An encoder for DL4J's StatsListener SBE messages, written from the reference
 * (/work/shared/reference/dl4j-remote-format.md §2–§3) field by field, independently of the
 * decoder under test. Options reproduce what DL4J really sends: unused zero bytes at the end,
 * unreliable presence bits, NaN summaries for parameters missing from a map.
 */

class Writer {
  readonly out: number[] = [];
  private scratch = new DataView(new ArrayBuffer(8));
  private put(n: number): void {
    for (let i = 0; i < n; i++) this.out.push(this.scratch.getUint8(i));
  }
  u8(v: number): this {
    this.out.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    this.scratch.setUint16(0, v, true);
    this.put(2);
    return this;
  }
  i32(v: number): this {
    this.scratch.setInt32(0, v, true);
    this.put(4);
    return this;
  }
  u32(v: number): this {
    this.scratch.setUint32(0, v, true);
    this.put(4);
    return this;
  }
  i64(v: number | bigint): this {
    this.scratch.setBigInt64(0, BigInt(v), true);
    this.put(8);
    return this;
  }
  f32(v: number): this {
    this.scratch.setFloat32(0, v, true);
    this.put(4);
    return this;
  }
  f64(v: number): this {
    this.scratch.setFloat64(0, v, true);
    this.put(8);
    return this;
  }
  /** groupSizeEncoding: uint16 blockLength, uint16 numInGroup. */
  group(blockLength: number, count: number): this {
    return this.u16(blockLength).u16(count);
  }
  /** VarDataUTF8: uint32 length, then the bytes; null is written as "". */
  str(s: string | null): this {
    const b = Buffer.from(s ?? '', 'utf8');
    this.u32(b.length);
    for (const x of b) this.out.push(x);
    return this;
  }
  header(blockLength: number, templateId: number): this {
    return this.u16(blockLength).u16(templateId).u16(1).u16(0);
  }
  bytes(trailingZeros = 0): Uint8Array {
    return Uint8Array.from([...this.out, ...new Array<number>(trailingZeros).fill(0)]);
  }
}

export interface EncodeOpts {
  /** Unused zero bytes after the message, as DL4J's over-sized buffers send them. */
  trailingZeros?: number;
}

export interface MetaIn {
  timeStamp: number;
  sessionId: string;
  typeId: string;
  workerId: string;
  initTypeClass: string;
  updateTypeClass: string;
  extra?: number[];
}

export function encodeMetaData(m: MetaIn, o: EncodeOpts = {}): Uint8Array {
  const w = new Writer().header(8, 3).i64(m.timeStamp);
  const extra = m.extra ?? [];
  w.group(1, extra.length);
  for (const b of extra) w.u8(b);
  w.str(m.sessionId).str(m.typeId).str(m.workerId).str(m.initTypeClass).str(m.updateTypeClass);
  return w.bytes(o.trailingZeros);
}

export interface StaticIn {
  time: number;
  software: boolean;
  hardware: boolean;
  model: boolean;
  jvmProcessors: number;
  jvmMaxMemory: number;
  offheapMaxMemory: number;
  numLayers: number;
  numParams: number;
  devices: Array<{ memoryMax: number; description: string }>;
  environment: Array<[string, string]>;
  paramNames: string[];
  sessionId: string;
  typeId: string;
  workerId: string;
  sw: [arch: string, os: string, jvmName: string, jvmVersion: string, jvmSpec: string, backend: string, dataType: string, host: string, jvmUid: string];
  hardwareUid: string;
  modelClass: string;
  modelJson: string;
}

export function encodeStaticInfo(s: StaticIn, o: EncodeOpts = {}): Uint8Array {
  const bits = (s.software ? 1 : 0) | (s.hardware ? 2 : 0) | (s.model ? 4 : 0);
  const w = new Writer().header(40, 1);
  w.i64(s.time).u8(bits).u16(s.jvmProcessors).u8(s.devices.length).i64(s.jvmMaxMemory).i64(s.offheapMaxMemory).i32(s.numLayers).i64(s.numParams);
  w.group(8, s.devices.length);
  for (const d of s.devices) w.i64(d.memoryMax).str(d.description);
  w.group(0, s.environment.length);
  for (const [k, v] of s.environment) w.str(k).str(v);
  w.group(0, s.paramNames.length);
  for (const p of s.paramNames) w.str(p);
  w.str(s.sessionId).str(s.typeId).str(s.workerId);
  for (const x of s.sw) w.str(x);
  w.str(s.hardwareUid).str(s.modelClass).str(s.modelJson);
  return w.bytes(o.trailingZeros);
}

/** StatsType 0..3 and SummaryType 0..2, as on the wire. */
export const P = 0, G = 1, U = 2, A = 3;
export const MEAN = 0, STDEV = 1, MM = 2;

export interface HistIn {
  stat: number;
  min: number;
  max: number;
  counts: number[];
  /** Forges a histogram whose nBins disagrees with its counts. */
  nBins?: number;
}

export interface EntryIn {
  learningRate: number;
  summaries: Array<[stat: number, summary: number, value: number]>;
  histograms: HistIn[];
}

export interface UpdateIn {
  time: number;
  iteration: number;
  fieldsPresent: number;
  statsDurationMs: number;
  score: number;
  /** [MemoryType, bytes] */
  memory: Array<[number, number]>;
  performance?: { runtimeMs: number; examples: number; minibatches: number; examplesPerSec: number; minibatchesPerSec: number };
  gc: Array<{ name: string; count: number; timeMs: number }>;
  paramNames: string[];
  layerNames: string[];
  entries: EntryIn[];
  sessionId: string;
  typeId: string;
  workerId: string;
  dataSetMetaData?: number[][];
  dataSetClass?: string;
}

export function encodeUpdate(u: UpdateIn, o: EncodeOpts = {}): Uint8Array {
  const w = new Writer().header(32, 2);
  w.i64(u.time).i32(0).i32(u.iteration).u32(u.fieldsPresent).i32(u.statsDurationMs).f64(u.score);
  w.group(9, u.memory.length);
  for (const [t, b] of u.memory) w.u8(t).i64(b);
  const p = u.performance;
  w.group(32, p ? 1 : 0);
  if (p) w.i64(p.runtimeMs).i64(p.examples).i64(p.minibatches).f32(p.examplesPerSec).f32(p.minibatchesPerSec);
  w.group(8, u.gc.length);
  for (const g of u.gc) w.i32(g.count).i32(g.timeMs).str(g.name);
  w.group(0, u.paramNames.length);
  for (const n of u.paramNames) w.str(n);
  w.group(0, u.layerNames.length);
  for (const n of u.layerNames) w.str(n);
  w.group(4, u.entries.length);
  for (const e of u.entries) {
    w.f32(e.learningRate);
    w.group(10, e.summaries.length);
    for (const [st, su, v] of e.summaries) w.u8(st).u8(su).f64(v);
    w.group(21, e.histograms.length);
    for (const h of e.histograms) {
      w.u8(h.stat).f64(h.min).f64(h.max).i32(h.nBins ?? h.counts.length);
      w.group(4, h.counts.length);
      for (const c of h.counts) w.u32(c);
    }
  }
  const ds = u.dataSetMetaData ?? [];
  w.group(0, ds.length);
  for (const blob of ds) {
    w.group(1, blob.length);
    for (const b of blob) w.u8(b);
  }
  w.str(u.sessionId).str(u.typeId).str(u.workerId).str(u.dataSetClass ?? '');
  return w.bytes(o.trailingZeros);
}

export const CLASSES = {
  beta7: {
    MetaData: 'org.deeplearning4j.ui.model.storage.impl.SbeStorageMetaData',
    StaticInfo: 'org.deeplearning4j.ui.model.stats.impl.SbeStatsInitializationReport',
    Update: 'org.deeplearning4j.ui.model.stats.impl.SbeStatsReport',
  },
  legacy: {
    MetaData: 'org.deeplearning4j.ui.storage.impl.SbeStorageMetaData',
    StaticInfo: 'org.deeplearning4j.ui.stats.impl.SbeStatsInitializationReport',
    Update: 'org.deeplearning4j.ui.stats.impl.SbeStatsReport',
  },
} as const;

/** The body RemoteUIStatsStorageRouter posts: keys type, class, data in that order, no spaces. */
export function envelope(type: 'MetaData' | 'StaticInfo' | 'Update', bytes: Uint8Array, generation: keyof typeof CLASSES = 'beta7'): string {
  return JSON.stringify({ type, class: CLASSES[generation][type], data: Buffer.from(bytes).toString('base64') });
}
