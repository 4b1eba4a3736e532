/**
 * Rule-engine throughput alone: steps per second for a 50-layer model with full stats
 * (param, grad, update, act per layer), one engine, one core. Prints figures; never fails on
 * timing. Usage: npx tsx bench/rules.ts [--smoke]
 */
import type { LayerInfo } from '@gradwatch/shared';
import { createRunEngine, type ModelView, type NumStats, type StepView } from '../server/src/rules/index.js';

const smoke = process.argv.includes('--smoke');
const LAYERS = 50;
const STEPS = smoke ? 5_000 : 100_000;

const layers: LayerInfo[] = Array.from({ length: LAYERS }, (_, i) => ({
  name: `block${i}.fc`, kind: 'Linear', activation: i === LAYERS - 1 ? 'identity' : 'relu', params: 512 * 512, fanIn: 512, fanOut: 512,
}));
const model: ModelView = { layers, loss: 'CrossEntropyLoss', optimizer: { type: 'Adam', lr: 1e-3 } };

const s = (meanAbs: number, extra: Partial<NumStats> = {}): NumStats => ({
  mean: 0, std: meanAbs * 1.25, meanAbs, min: -4 * meanAbs, max: 4 * meanAbs, norm: meanAbs * 600, nonFinite: 0, ...extra,
});

/** A small pool of pre-built healthy steps, so the bench measures the engine, not object building. */
const pool: StepView[] = Array.from({ length: 64 }, (_, k) => {
  const wob = 1 + 0.1 * Math.sin(k);
  const ls: StepView['layers'] = {};
  const updateRatio: Record<string, number> = {};
  for (const l of layers) {
    ls[l.name] = {
      param: s(0.05), grad: s(1e-3 * wob), update: s(5e-5 * wob),
      act: s(0.6, { mean: 0.5, min: 0, fracZero: 0.5, fracDeadUnits: 0.02 }),
    };
    updateRatio[l.name] = Math.log10((5e-5 * wob) / 0.05);
  }
  return { step: 0, scalars: { loss: 1 + 0.1 * Math.sin(k * 1.3), lr: 1e-3 }, layers: ls, updateRatio, gradNormRatio: 1,
    inputs: { mean: 0, std: 1, min: -3, max: 3, nonFinite: 0 } };
});

function bench(): number {
  const e = createRunEngine();
  e.onHello({ id: 'bench', project: 'bench', name: 'bench', config: { batchSize: 64 } });
  e.onModel(model);
  let alerts = 0;
  const seen = new Map<string, number>();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < STEPS; i++) {
    const v = pool[i % pool.length] as StepView;
    v.step = i;
    // A slowly falling loss: a flat one would rightly raise lr.loss_plateau (not learning).
    v.scalars.loss = 0.2 + 2 * Math.exp(-i / 2_000) + 0.05 * Math.sin(i * 1.3);
    const changes = e.onStep(v);
    for (const c of changes) {
      alerts++;
      const key = `${c.rule} ${c.severity} ${c.action}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    // As ingest does: the verdict is read again whenever alerts changed.
    if (changes.length > 0) e.diagnoses();
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  // The stream's loss flattens out after ~7,000 steps: lr.loss_plateau then rightly opens as info
  // (converged) and refreshes its evidence once per 200-step window.
  if (alerts > 0) console.log(`  (${alerts} alert changes on the synthetic stream: ${[...seen].map(([k, n]) => `${k} ×${n}`).join(', ')})`);
  return STEPS / secs;
}

console.log(`rule engine with the diagnosis layer: ${LAYERS} layers × 4 stats objects, ${STEPS} steps${smoke ? ' (smoke)' : ''}`);
bench(); // warm-up
const runs = smoke ? 1 : 3;
const rates = Array.from({ length: runs }, bench);
const best = Math.max(...rates);
console.log(`steps/s per core: ${rates.map((r) => Math.round(r).toLocaleString('en-US')).join(', ')} (best ${Math.round(best).toLocaleString('en-US')})`);
console.log(`values/s per core: ${Math.round(best * LAYERS * 4 * 5).toLocaleString('en-US')} (5 fields per stats object)`);
console.log(`target: ≥ 20,000 steps/s per core — ${best >= 20_000 ? 'met' : 'NOT met'} on this run`);
