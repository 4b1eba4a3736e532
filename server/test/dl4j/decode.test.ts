import { describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/dl4j/envelope.js';
import { decodeSbe } from '../../src/dl4j/sbe-decode.js';
import { Dl4jFormatError } from '../../src/dl4j/sbe-reader.js';
import type { StaticInfo, Update } from '../../src/dl4j/sbe-types.js';
import { buildStatic, buildUpdate, mlnParams, series } from './reports.js';
import { CLASSES, encodeMetaData, encodeStaticInfo, encodeUpdate, envelope, type UpdateIn } from './sbe-encoder.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/"([^"]*)"/g, (_, t: string) => Buffer.from(t).toString('hex')).replace(/\s+/g, ''), 'hex'));

/** The reference's synthetic Update (§3.3), byte for byte. */
const SPEC_UPDATE = hex(`
20 00 02 00 01 00 00 00  00 80 6e 87 74 01 00 00  00 00 00 00 0a 00 00 00  01 00 00 00 03 00 00 00
00 00 00 00 00 00 e0 3f  09 00 00 00 20 00 00 00  08 00 00 00 00 00 00 00  00 00 00 00 04 00 00 00
00 00 00 00 03 00 00 00 61 62 63 0d 00 00 00 "StatsListener" 02 00 00 00 77 31 00 00 00 00`);

const bareUpdate = (over: Partial<UpdateIn> = {}): UpdateIn => ({
  time: 1_600_000_000_000, iteration: 10, fieldsPresent: 1, statsDurationMs: 3, score: 0.5, memory: [], gc: [],
  paramNames: [], layerNames: [], entries: [], sessionId: 'abc', typeId: 'StatsListener', workerId: 'w1', ...over,
});

function decodeError(bytes: Uint8Array): string {
  try {
    decodeSbe(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(Dl4jFormatError);
    return (e as Error).message;
  }
  throw new Error('decoded without error');
}

describe('SBE decoding (reference §2–§3)', () => {
  it('reads the reference example Update, and the test encoder writes the same bytes', () => {
    expect(SPEC_UPDATE.length).toBe(84 + 3 + 13 + 2);
    const u = decodeSbe(SPEC_UPDATE) as Update;
    expect(u).toMatchObject({ template: 'update', time: 1_600_000_000_000, iteration: 10, fieldsPresent: 1, statsCollectionDuration: 3, score: 0.5 });
    expect(u).toMatchObject({ sessionId: 'abc', typeId: 'StatsListener', workerId: 'w1', dataSetMetaDataClassName: '', memory: [], gc: [], entries: [], performance: null });
    expect(Buffer.from(encodeUpdate(bareUpdate())).equals(Buffer.from(SPEC_UPDATE))).toBe(true);
  });

  it('reads the reference example StorageMetaData prefix and every var-data field', () => {
    const m = { timeStamp: 1_600_000_000_000, sessionId: 'abc', typeId: 'StatsListener', workerId: 'w1', initTypeClass: CLASSES.beta7.StaticInfo, updateTypeClass: CLASSES.beta7.Update };
    const bytes = encodeMetaData(m);
    expect(Buffer.from(bytes.subarray(0, 31))).toEqual(Buffer.from(hex('08 00 03 00 01 00 00 00 | 00 80 6e 87 74 01 00 00 | 01 00 00 00 | 03 00 00 00 61 62 63 | 0d 00 00 00'.replace(/\|/g, ''))));
    expect(decodeSbe(bytes)).toEqual({ template: 'storageMetaData', extraMetaDataBytes: 0, ...m });
    expect(decodeSbe(encodeMetaData({ ...m, extra: [0xac, 0xed, 0, 5] }))).toMatchObject({ extraMetaDataBytes: 4, updateTypeClass: m.updateTypeClass });
  });

  it('reads a StaticInfo value for value, packed fields included (uint16 at 9, int64 at 12)', () => {
    const s = buildStatic({ devices: [{ memoryMax: 17_179_869_184, description: 'Tesla T4 (0)' }, { memoryMax: 8_589_934_592, description: 'Tesla T4 (1)' }], jvmProcessors: 65_000 });
    const d = decodeSbe(encodeStaticInfo(s)) as StaticInfo;
    expect(d).toEqual({
      template: 'staticInfo', time: s.time, present: { software: true, hardware: true, model: true },
      hwJvmProcessors: 65_000, hwNumDevices: 2, hwJvmMaxMemory: s.jvmMaxMemory, hwOffheapMaxMemory: s.offheapMaxMemory,
      modelNumLayers: 2, modelNumParams: s.numParams, devices: s.devices, environment: s.environment, modelParamNames: s.paramNames,
      sessionId: 'sess-1', typeId: 'StatsListener', workerId: 'jvm1_1',
      sw: { arch: 'amd64', osName: 'Linux', jvmName: 'OpenJDK 64-Bit Server VM', jvmVersion: '17.0.9', jvmSpecVersion: '17', nd4jBackendClass: s.sw[5], nd4jDataTypeName: 'FLOAT', hostName: 'trainbox\n', jvmUid: 'jvm1' },
      hwHardwareUid: 'a1b2c3', modelClassName: s.modelClass, modelConfigJson: s.modelJson,
    });
  });

  it('reads an Update value for value: memory, performance, GC, names, summaries, histograms', () => {
    const spec = buildUpdate({
      time: 1_700_000_000_123, iteration: 20, score: 1.0986,
      params: mlnParams(2), acts: { input: series(9, 12, 1), '0': series(10, 16, 2, 1) },
      memory: [[0, 512 * 2 ** 20], [1, 4 * 2 ** 30], [2, 100], [3, 2 ** 40], [4, 3e9], [5, 16e9]],
      performance: { runtimeMs: 12_345, examples: 6400, minibatches: 200, examplesPerSec: 123.25, minibatchesPerSec: 3.5 },
      gc: [{ name: 'G1 Young Generation', count: 2, timeMs: 17 }],
    });
    const u = decodeSbe(encodeUpdate(spec)) as Update;
    expect(u.memory).toEqual([
      { type: 'JvmCurrent', bytes: 512 * 2 ** 20 }, { type: 'JvmMax', bytes: 4 * 2 ** 30 }, { type: 'OffHeapCurrent', bytes: 100 },
      { type: 'OffHeapMax', bytes: 2 ** 40 }, { type: 'DeviceCurrent', bytes: 3e9 }, { type: 'DeviceMax', bytes: 16e9 },
    ]);
    expect(u.performance).toEqual({ totalRuntimeMs: 12_345, totalExamples: 6400, totalMinibatches: 200, examplesPerSecond: 123.25, minibatchesPerSecond: 3.5 });
    expect(u.gc).toEqual([{ name: 'G1 Young Generation', deltaCount: 2, deltaTimeMs: 17 }]);
    expect(u.paramNames).toEqual(['1_b', '1_W', '0_b', '0_W']);
    // Object key order puts '0' first; what matters is that the decoder keeps the sender's order.
    expect(u.layerNames).toEqual(spec.layerNames);
    expect(u.layerNames).toEqual(['0', 'input']);
    expect(u.entries).toHaveLength(6);
    spec.entries.forEach((e, i) => {
      const d = u.entries[i] as Update['entries'][number];
      expect(d.name).toBe(i < 4 ? spec.paramNames[i] : spec.layerNames[i - 4]);
      expect(d.isLayer).toBe(i >= 4);
      expect(d.learningRate).toBe(Math.fround(e.learningRate));
      expect(d.summaries.map((s) => s.value)).toEqual(e.summaries.map((s) => s[2]));
      expect(d.histograms.map((h) => [h.min, h.max, h.counts])).toEqual(e.histograms.map((h) => [h.min, h.max, h.counts]));
    });
    expect(u.entries[0]?.summaries.slice(0, 3).map((s) => [s.stat, s.summary])).toEqual([['Parameters', 'Mean'], ['Parameters', 'Stdev'], ['Parameters', 'MeanMagnitude']]);
  });

  it('ignores unused zero bytes after the message (pitfall 1)', () => {
    const spec = buildUpdate({ time: 1, iteration: 0, score: 2, params: mlnParams(0) });
    expect(decodeSbe(encodeUpdate(spec, { trailingZeros: 400 }))).toEqual(decodeSbe(encodeUpdate(spec)));
    const s = buildStatic();
    expect(decodeSbe(encodeStaticInfo(s, { trailingZeros: 7 }))).toEqual(decodeSbe(encodeStaticInfo(s)));
  });

  it('skips dataSetMetaData blobs and a longer root block from a newer writer', () => {
    const u = decodeSbe(encodeUpdate(bareUpdate({ dataSetMetaData: [[1, 2, 3], [4]], dataSetClass: 'org.x.Meta' }))) as Update;
    expect(u).toMatchObject({ dataSetMetaData: 2, dataSetMetaDataClassName: 'org.x.Meta', workerId: 'w1' });
    const b = Array.from(encodeUpdate(bareUpdate()));
    b.splice(40, 0, 9, 9, 9, 9);
    b[0] = 36;
    expect(decodeSbe(Uint8Array.from(b))).toMatchObject({ iteration: 10, score: 0.5, workerId: 'w1' });
  });

  it('refuses every truncation of a message with a reason, never another kind of error', () => {
    const full = encodeUpdate(buildUpdate({ time: 5, iteration: 3, score: 1, params: mlnParams(1), acts: { '0': series(3, 8, 1) }, gc: [{ name: 'PS', count: 1, timeMs: 1 }] }));
    for (let n = 0; n < full.length; n++) expect(decodeError(full.subarray(0, n))).toMatch(/ends early|entries|header/);
  });

  it('refuses what DL4J never writes, saying what is wrong', () => {
    const good = encodeUpdate(bareUpdate());
    const patch = (at: number, v: number) => {
      const b = Uint8Array.from(good);
      b[at] = v;
      return b;
    };
    expect(decodeError(patch(4, 2))).toMatch(/schema id 2/);
    expect(decodeError(patch(6, 1))).toMatch(/version 1/);
    expect(decodeError(patch(2, 7))).toMatch(/template id 7/);
    expect(decodeError(patch(0, 16))).toMatch(/root block of 16/);
    expect(decodeError(encodeUpdate(bareUpdate({ memory: [[6, 1]] })))).toMatch(/memoryType 6/);
    const one = { learningRate: 0, summaries: [] as Array<[number, number, number]>, histograms: [] };
    expect(decodeError(encodeUpdate(bareUpdate({ paramNames: ['0_W'], entries: [one, one] })))).toMatch(/2 entries for 1 parameters/);
    expect(decodeError(encodeUpdate(bareUpdate({ paramNames: ['0_W'], entries: [{ ...one, summaries: [[0, 3, 1]] }] })))).toMatch(/summaryType 3/);
    expect(decodeError(encodeUpdate(bareUpdate({ paramNames: ['0_W'], entries: [{ ...one, histograms: [{ stat: 0, min: 0, max: 1, counts: [1, 2], nBins: 3 }] }] })))).toMatch(/3 bins but carries 2/);
    const badUtf8 = Uint8Array.from(good);
    badUtf8[good.length - 5] = 0xff;
    expect(decodeError(badUtf8)).toMatch(/UTF-8/);
  });
});

describe('the JSON envelope (reference §1.3)', () => {
  const bytes = encodeUpdate(bareUpdate());
  it('accepts both class-name generations and any case of type', () => {
    for (const g of ['beta7', 'legacy'] as const) expect(decodeEnvelope(JSON.parse(envelope('Update', bytes, g)))).toMatchObject({ iteration: 10 });
    expect(decodeEnvelope({ type: 'uPdAtE', class: CLASSES.beta7.Update, data: Buffer.from(bytes).toString('base64') })).toMatchObject({ score: 0.5 });
  });

  it('refuses, with a reason, what it cannot read', () => {
    const data = Buffer.from(bytes).toString('base64');
    const cases: Array<[unknown, RegExp]> = [
      [[], /JSON object/],
      [{ type: 'Update', class: CLASSES.beta7.Update }, /"data"/],
      [{ type: 'Other', class: CLASSES.beta7.Update, data }, /not MetaData, StaticInfo or Update/],
      [{ type: 'Update', class: 'org.deeplearning4j.ui.model.stats.impl.java.JavaStatsReport', data }, /Java-serialized/],
      [{ type: 'Update', class: 'com.example.Custom', data }, /only the SBE classes/],
      [{ type: 'StaticInfo', class: CLASSES.beta7.Update, data }, /does not match/],
      [{ type: 'MetaData', class: CLASSES.legacy.MetaData, data }, /holds a update message/],
      [{ type: 'Update', class: CLASSES.beta7.Update, data: `${data.slice(0, -4)}!!!!` }, /base64/],
      [{ type: 'Update', class: CLASSES.beta7.Update, data: data.slice(1) }, /base64/],
    ];
    for (const [body, re] of cases) expect(() => decodeEnvelope(body)).toThrow(re);
  });
});
