import { decodeSbe } from './sbe-decode.js';
import { Dl4jFormatError } from './sbe-reader.js';
import type { SbeMessage } from './sbe-types.js';

/** The StorageType names DL4J puts in `type`, compared without case as its server does. */
const TYPES = { metadata: 'storageMetaData', staticinfo: 'staticInfo', update: 'update' } as const;

/**
 * The SBE classes of the stock StatsListener, both generations (the package moved in
 * 1.0.0-beta7; the bytes did not change).
 */
export const SBE_CLASSES: Record<string, SbeMessage['template']> = {
  'org.deeplearning4j.ui.storage.impl.SbeStorageMetaData': 'storageMetaData',
  'org.deeplearning4j.ui.stats.impl.SbeStatsInitializationReport': 'staticInfo',
  'org.deeplearning4j.ui.stats.impl.SbeStatsReport': 'update',
  'org.deeplearning4j.ui.model.storage.impl.SbeStorageMetaData': 'storageMetaData',
  'org.deeplearning4j.ui.model.stats.impl.SbeStatsInitializationReport': 'staticInfo',
  'org.deeplearning4j.ui.model.stats.impl.SbeStatsReport': 'update',
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function field(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v !== 'string') throw new Dl4jFormatError(`the JSON body needs a string "${key}" (DL4J sends {"type","class","data"})`);
  return v;
}

/**
 * Reads RemoteUIStatsStorageRouter's JSON envelope: checks that `type`, `class` and the SBE
 * template agree, and decodes `data`. Java-serialized (J7StatsListener) and JSON (DSP) payloads
 * are refused by name, since nothing here can read them.
 */
export function decodeEnvelope(body: unknown): SbeMessage {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new Dl4jFormatError('the body must be a JSON object {"type","class","data"}');
  }
  const b = body as Record<string, unknown>;
  const type = field(b, 'type');
  const cls = field(b, 'class');
  const data = field(b, 'data');
  const expected = TYPES[type.toLowerCase() as keyof typeof TYPES];
  if (expected === undefined) throw new Dl4jFormatError(`type "${type.slice(0, 60)}" is not MetaData, StaticInfo or Update`);
  const template = SBE_CLASSES[cls];
  if (template === undefined) {
    const why = /\.Java[A-Za-z]*$/.test(cls) ? 'Java-serialized payloads (J7StatsListener) cannot be read; use StatsListener' : 'only the SBE classes of StatsListener are understood';
    throw new Dl4jFormatError(`class "${cls.slice(0, 120)}": ${why}`);
  }
  if (template !== expected) throw new Dl4jFormatError(`type "${type}" does not match class "${cls}"`);
  if (data.length % 4 !== 0 || !BASE64.test(data)) throw new Dl4jFormatError('"data" is not standard base64');
  const msg = decodeSbe(Buffer.from(data, 'base64'));
  if (msg.template !== template) throw new Dl4jFormatError(`"data" holds a ${msg.template} message, but class "${cls}" was named`);
  return msg;
}
