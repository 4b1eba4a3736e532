import { Dl4jFormatError, SbeReader } from './sbe-reader.js';
import {
  MEMORY_TYPES, ROOT_BLOCK, SCHEMA_ID, SCHEMA_VERSION, STATS_TYPES, SUMMARY_TYPES, TEMPLATE,
  type Histogram, type MemoryType, type SbeMessage, type StaticInfo, type StatsEntry, type StatsType,
  type StorageMetaData, type Summary, type SummaryType, type Update,
} from './sbe-types.js';

function enumOf<T extends string>(values: readonly T[], raw: number, what: string): T {
  const v = values[raw];
  // 255 is SBE's null; DL4J never writes it, and its own decoder fails on any unknown value too.
  if (v === undefined) throw new Dl4jFormatError(`${what} ${raw} is not one of 0..${values.length - 1}`);
  return v;
}

/**
 * Decodes one SBE-encoded DL4J message (header, root block, groups, var-data) by walking its
 * structure. Bytes after the last var-data field are ignored: DL4J sizes its buffers generously
 * and sends the unused zeros (§5 pitfall 1).
 */
export function decodeSbe(bytes: Uint8Array): SbeMessage {
  const r = new SbeReader(bytes);
  const blockLength = r.u16(0, 'message header');
  const templateId = r.u16(2, 'message header');
  const schemaId = r.u16(4, 'message header');
  const version = r.u16(6, 'message header');
  if (schemaId !== SCHEMA_ID) throw new Dl4jFormatError(`SBE schema id ${schemaId}; DL4J's StatsListener schema is ${SCHEMA_ID}`);
  if (version !== SCHEMA_VERSION) throw new Dl4jFormatError(`SBE schema version ${version}; only version ${SCHEMA_VERSION} is known`);
  const min = ROOT_BLOCK[templateId as keyof typeof ROOT_BLOCK];
  if (min === undefined) throw new Dl4jFormatError(`SBE template id ${templateId}; expected 1 (StaticInfo), 2 (Update) or 3 (StorageMetaData)`);
  if (blockLength < min) throw new Dl4jFormatError(`root block of ${blockLength} bytes; template ${templateId} needs ${min}`);
  r.need(8, blockLength, 'root block');
  r.pos = 8 + blockLength;
  if (templateId === TEMPLATE.storageMetaData) return metaData(r);
  if (templateId === TEMPLATE.staticInfo) return staticInfo(r);
  return update(r);
}

function metaData(r: SbeReader): StorageMetaData {
  const timeStamp = r.i64(8, 'timeStamp');
  const extra = r.group('extraMetaDataBytes', 1);
  for (let i = 0; i < extra.count; i++) r.entry(extra.blockLength);
  return {
    template: 'storageMetaData',
    timeStamp,
    extraMetaDataBytes: extra.count,
    sessionId: r.string('sessionID'),
    typeId: r.string('typeID'),
    workerId: r.string('workerID'),
    initTypeClass: r.string('initTypeClass'),
    updateTypeClass: r.string('updateTypeClass'),
  };
}

function staticInfo(r: SbeReader): StaticInfo {
  const bits = r.u8(16, 'fieldsPresent');
  const devicesGroup = r.group('hwDeviceInfoGroup', 8);
  const devices: StaticInfo['devices'] = [];
  for (let i = 0; i < devicesGroup.count; i++) {
    const at = r.entry(devicesGroup.blockLength);
    devices.push({ memoryMax: r.i64(at, 'deviceMemoryMax'), description: r.string('deviceDescription') });
  }
  const envGroup = r.group('swEnvironmentInfo', 0);
  const environment: Array<[string, string]> = [];
  for (let i = 0; i < envGroup.count; i++) {
    r.entry(envGroup.blockLength);
    environment.push([r.string('envKey'), r.string('envValue')]);
  }
  const namesGroup = r.group('modelParamNames', 0);
  const modelParamNames: string[] = [];
  for (let i = 0; i < namesGroup.count; i++) {
    r.entry(namesGroup.blockLength);
    modelParamNames.push(r.string('modelParamNames'));
  }
  const s = (what: string) => r.string(what);
  return {
    template: 'staticInfo',
    time: r.i64(8, 'time'),
    present: { software: (bits & 1) !== 0, hardware: (bits & 2) !== 0, model: (bits & 4) !== 0 },
    hwJvmProcessors: r.u16(17, 'hwJvmProcessors'),
    hwNumDevices: r.u8(19, 'hwNumDevices'),
    hwJvmMaxMemory: r.i64(20, 'hwJvmMaxMemory'),
    hwOffheapMaxMemory: r.i64(28, 'hwOffheapMaxMemory'),
    modelNumLayers: r.i32(36, 'modelNumLayers'),
    modelNumParams: r.i64(40, 'modelNumParams'),
    devices,
    environment,
    modelParamNames,
    sessionId: s('sessionID'),
    typeId: s('typeID'),
    workerId: s('workerID'),
    sw: {
      arch: s('swArch'),
      osName: s('swOsName'),
      jvmName: s('swJvmName'),
      jvmVersion: s('swJvmVersion'),
      jvmSpecVersion: s('swJvmSpecVersion'),
      nd4jBackendClass: s('swNd4jBackendClass'),
      nd4jDataTypeName: s('swNd4jDataTypeName'),
      hostName: s('swHostName'),
      jvmUid: s('swJvmUID'),
    },
    hwHardwareUid: s('hwHardwareUID'),
    modelClassName: s('modelConfigClassName'),
    modelConfigJson: s('modelConfigJson'),
  };
}

function names(r: SbeReader, what: string): string[] {
  const g = r.group(what, 0);
  const out: string[] = [];
  for (let i = 0; i < g.count; i++) {
    r.entry(g.blockLength);
    out.push(r.string(what));
  }
  return out;
}

function statsEntry(r: SbeReader, blockLength: number, name: string, isLayer: boolean): StatsEntry {
  const at = r.entry(blockLength);
  const learningRate = r.f32(at, 'learningRate');
  const sg = r.group('summaryStat', 10);
  const summaries: Summary[] = [];
  for (let j = 0; j < sg.count; j++) {
    const e = r.entry(sg.blockLength);
    summaries.push({
      stat: enumOf<StatsType>(STATS_TYPES, r.u8(e, 'statType'), 'summaryStat statType'),
      summary: enumOf<SummaryType>(SUMMARY_TYPES, r.u8(e + 1, 'summaryType'), 'summaryType'),
      value: r.f64(e + 2, 'summaryStat value'),
    });
  }
  const hg = r.group('histograms', 21);
  const histograms: Histogram[] = [];
  for (let j = 0; j < hg.count; j++) {
    const e = r.entry(hg.blockLength);
    const stat = enumOf<StatsType>(STATS_TYPES, r.u8(e, 'histogram statType'), 'histogram statType');
    const nBins = r.i32(e + 17, 'nBins');
    const cg = r.group('histogramCounts', 4);
    if (cg.count !== nBins) throw new Dl4jFormatError(`histogram of "${name}" declares ${nBins} bins but carries ${cg.count} counts`);
    const counts: number[] = [];
    for (let k = 0; k < cg.count; k++) counts.push(r.u32(r.entry(cg.blockLength), 'binCount'));
    histograms.push({ stat, min: r.f64(e + 1, 'minValue'), max: r.f64(e + 9, 'maxValue'), counts });
  }
  return { name, isLayer, learningRate, summaries, histograms };
}

function update(r: SbeReader): Update {
  const mg = r.group('memoryUse', 9);
  const memory: Update['memory'] = [];
  for (let i = 0; i < mg.count; i++) {
    const at = r.entry(mg.blockLength);
    memory.push({ type: enumOf<MemoryType>(MEMORY_TYPES, r.u8(at, 'memoryType'), 'memoryType'), bytes: r.i64(at + 1, 'memoryBytes') });
  }
  const pg = r.group('performance', 32);
  if (pg.count > 1) throw new Dl4jFormatError(`performance group has ${pg.count} entries; at most 1 is written`);
  let performance: Update['performance'] = null;
  if (pg.count === 1) {
    const at = r.entry(pg.blockLength);
    performance = {
      totalRuntimeMs: r.i64(at, 'totalRuntimeMs'),
      totalExamples: r.i64(at + 8, 'totalExamples'),
      totalMinibatches: r.i64(at + 16, 'totalMinibatches'),
      examplesPerSecond: r.f32(at + 24, 'examplesPerSecond'),
      minibatchesPerSecond: r.f32(at + 28, 'minibatchesPerSecond'),
    };
  }
  const gg = r.group('gcStats', 8);
  const gc: Update['gc'] = [];
  for (let i = 0; i < gg.count; i++) {
    const at = r.entry(gg.blockLength);
    const deltaCount = r.i32(at, 'deltaGCCount');
    const deltaTimeMs = r.i32(at + 4, 'deltaGCTimeMs');
    gc.push({ name: r.string('gcName'), deltaCount, deltaTimeMs });
  }
  const paramNames = names(r, 'paramNames');
  const layerNames = names(r, 'layerNames');
  const eg = r.group('perParameterStats', 4);
  if (eg.count !== paramNames.length + layerNames.length) {
    throw new Dl4jFormatError(`perParameterStats has ${eg.count} entries for ${paramNames.length} parameters and ${layerNames.length} layers`);
  }
  const entries: StatsEntry[] = [];
  for (let i = 0; i < eg.count; i++) {
    const isLayer = i >= paramNames.length;
    const name = (isLayer ? layerNames[i - paramNames.length] : paramNames[i]) as string;
    entries.push(statsEntry(r, eg.blockLength, name, isLayer));
  }
  const dg = r.group('dataSetMetaDataBytes', 0);
  for (let i = 0; i < dg.count; i++) {
    r.entry(dg.blockLength);
    const inner = r.group('metaDataBytes', 1);
    for (let k = 0; k < inner.count; k++) r.entry(inner.blockLength);
  }
  return {
    template: 'update',
    time: r.i64(8, 'time'),
    iteration: r.i32(20, 'iterationCount'),
    fieldsPresent: r.u32(24, 'fieldsPresent'),
    statsCollectionDuration: r.i32(28, 'statsCollectionDuration'),
    score: r.f64(32, 'score'),
    memory,
    performance,
    gc,
    paramNames,
    layerNames,
    entries,
    dataSetMetaData: dg.count,
    sessionId: r.string('sessionID'),
    typeId: r.string('typeID'),
    workerId: r.string('workerID'),
    dataSetMetaDataClassName: r.string('dataSetMetaDataClassName'),
  };
}
