import { createHash } from 'node:crypto';
import type { LayerInfo, ModelMsg, RunInfo } from '@gradwatch/shared';
import { inputNameOf, parseModelConfig, type LayerConf } from './model-config.js';
import { layerOrder } from './param-layout.js';
import type { StaticInfo } from './sbe-types.js';

/**
 * The run id of a DL4J (session, worker): stable, so every message of a worker lands in the same
 * run across restarts of either side, and readable, so the session can be recognised in a list.
 * Workers of one session (Spark, ParallelWrapper) are runs of their own.
 */
export function runIdOf(sessionId: string, workerId: string): string {
  const slug = sessionId.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 80);
  const hash = createHash('sha256').update(`${sessionId}\n${workerId}`).digest('hex').slice(0, 16);
  return slug ? `dl4j-${slug}-${hash}` : `dl4j-${hash}`;
}

export type RunFields = Omit<RunInfo, 'id' | 'project'>;

/** A run's name and where it runs, before any StaticInfo came (MetaData or an Update first). */
export function bareRun(sessionId: string, workerId: string): RunFields {
  return { name: clip(sessionId || workerId || 'dl4j session', 200), framework: 'dl4j', tags: ['dl4j'], config: { 'dl4j.sessionId': clip(sessionId, 10_000), 'dl4j.workerId': clip(workerId, 10_000) } };
}

const clip = (s: string, n: number): string => (s.length > n ? s.slice(0, n) : s);

function firstOf<K extends keyof LayerConf>(confs: LayerConf[], key: K): LayerConf[K] | undefined {
  for (const c of confs) if (c[key] !== undefined) return c[key];
  return undefined;
}

/** The run and model a StaticInfo describes. */
export function mapStatic(si: StaticInfo): { run: RunFields; model: Omit<ModelMsg, 'type' | 'seq'> } {
  const run = bareRun(si.sessionId, si.workerId);
  const config = run.config as Record<string, unknown>;
  const host = si.sw.hostName.trim();
  if (host) run.host = clip(host, 200);
  const put = (k: string, v: string | number) => {
    if (v !== '' && !(typeof v === 'number' && !Number.isFinite(v))) config[k] = typeof v === 'string' ? clip(v, 10_000) : v;
  };
  if (si.present.model) {
    put('dl4j.modelClass', si.modelClassName);
    put('dl4j.numParams', si.modelNumParams);
    put('dl4j.numLayers', si.modelNumLayers);
    put('dl4j.input', inputNameOf(si.modelConfigJson));
  }
  if (si.present.software) {
    put('dl4j.backend', si.sw.nd4jBackendClass);
    put('dl4j.dataType', si.sw.nd4jDataTypeName);
    put('dl4j.jvm', `${si.sw.jvmName} ${si.sw.jvmVersion}`.trim());
    put('dl4j.os', `${si.sw.osName} ${si.sw.arch}`.trim());
  }
  if (si.present.hardware) {
    put('dl4j.processors', si.hwJvmProcessors);
    si.devices.forEach((d, i) => put(`dl4j.device${i}`, d.description));
  }

  const confs = parseModelConfig(si.present.model ? si.modelConfigJson : '');
  const names = layerOrder(si.modelParamNames);
  const layers: LayerInfo[] = names.map((name) => {
    const c = confs.get(name);
    const l: LayerInfo = { name: clip(name, 200), kind: clip(c?.kind ?? 'unknown', 100), params: c?.params ?? 0 };
    if (c?.activation) l.activation = clip(c.activation, 100);
    if (c?.init) l.init = clip(c.init, 100);
    if (c?.fanIn !== undefined) l.fanIn = c.fanIn;
    if (c?.fanOut !== undefined) l.fanOut = c.fanOut;
    if (c?.trainable === false) l.trainable = false;
    return l;
  });
  const used = names.map((n) => confs.get(n)).filter((c): c is LayerConf => c !== undefined);
  const model: Omit<ModelMsg, 'type' | 'seq'> = { layers };
  const loss = [...used].reverse().find((c) => c.loss)?.loss;
  if (loss) model.loss = clip(loss, 100);
  const updater = firstOf(used, 'updater');
  if (updater) model.optimizer = { ...updater, type: clip(updater.type, 100) };
  const l1 = firstOf(used, 'l1');
  const l2 = firstOf(used, 'l2');
  const dropout = firstOf(used, 'dropout');
  if (l1 !== undefined) config.l1 = l1;
  if (l2 !== undefined) config.l2 = l2;
  if (dropout !== undefined) {
    config.dropout = dropout;
    config.dropoutMeaning = 'retain';
  }
  return { run, model };
}
