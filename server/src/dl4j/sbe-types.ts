/** The three SBE messages of DL4J's StatsListener, decoded (reference: dl4j-remote-format.md §3). */

export const TEMPLATE = { staticInfo: 1, update: 2, storageMetaData: 3 } as const;
export const SCHEMA_ID = 1;
export const SCHEMA_VERSION = 0;
/** Root block lengths DL4J writes; a longer block (a newer schema) is stepped over. */
export const ROOT_BLOCK = { 1: 40, 2: 32, 3: 8 } as const;

export const MEMORY_TYPES = ['JvmCurrent', 'JvmMax', 'OffHeapCurrent', 'OffHeapMax', 'DeviceCurrent', 'DeviceMax'] as const;
export type MemoryType = (typeof MEMORY_TYPES)[number];
export const STATS_TYPES = ['Parameters', 'Gradients', 'Updates', 'Activations'] as const;
export type StatsType = (typeof STATS_TYPES)[number];
export const SUMMARY_TYPES = ['Mean', 'Stdev', 'MeanMagnitude'] as const;
export type SummaryType = (typeof SUMMARY_TYPES)[number];

/** UpdateFieldsPresent bits the decoder trusts (the others are unreliable, §3.4). */
export const UPDATE_BITS = { score: 0, memoryUse: 1, performance: 2, garbageCollection: 3, learningRates: 20, dataSetMetaData: 21 } as const;

export interface Dl4jIds {
  sessionId: string;
  typeId: string;
  workerId: string;
}

export interface StorageMetaData extends Dl4jIds {
  template: 'storageMetaData';
  timeStamp: number;
  /** Entries of the Java-serialized extra metadata; StatsListener sends none. */
  extraMetaDataBytes: number;
  initTypeClass: string;
  updateTypeClass: string;
}

export interface StaticInfo extends Dl4jIds {
  template: 'staticInfo';
  time: number;
  present: { software: boolean; hardware: boolean; model: boolean };
  hwJvmProcessors: number;
  hwNumDevices: number;
  hwJvmMaxMemory: number;
  hwOffheapMaxMemory: number;
  modelNumLayers: number;
  modelNumParams: number;
  devices: Array<{ memoryMax: number; description: string }>;
  environment: Array<[string, string]>;
  modelParamNames: string[];
  sw: {
    arch: string;
    osName: string;
    jvmName: string;
    jvmVersion: string;
    jvmSpecVersion: string;
    nd4jBackendClass: string;
    nd4jDataTypeName: string;
    hostName: string;
    jvmUid: string;
  };
  hwHardwareUid: string;
  modelClassName: string;
  modelConfigJson: string;
}

export interface Summary {
  stat: StatsType;
  summary: SummaryType;
  value: number;
}

export interface Histogram {
  stat: StatsType;
  min: number;
  max: number;
  counts: number[];
}

/** One perParameterStats entry, named by its position (§3.3 group 6). */
export interface StatsEntry {
  name: string;
  /** true for a layerNames entry (activations), false for a parameter. */
  isLayer: boolean;
  learningRate: number;
  summaries: Summary[];
  histograms: Histogram[];
}

export interface Update extends Dl4jIds {
  template: 'update';
  time: number;
  iteration: number;
  /** Raw UpdateFieldsPresent; only the bits in UPDATE_BITS mean anything. */
  fieldsPresent: number;
  statsCollectionDuration: number;
  score: number;
  memory: Array<{ type: MemoryType; bytes: number }>;
  performance: { totalRuntimeMs: number; totalExamples: number; totalMinibatches: number; examplesPerSecond: number; minibatchesPerSecond: number } | null;
  gc: Array<{ name: string; deltaCount: number; deltaTimeMs: number }>;
  paramNames: string[];
  layerNames: string[];
  entries: StatsEntry[];
  dataSetMetaData: number;
  dataSetMetaDataClassName: string;
}

export type SbeMessage = StorageMetaData | StaticInfo | Update;
