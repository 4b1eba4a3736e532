/**
 * Policies and schedules. A schedule counted in iterations assumes one process's pace: with
 * N workers each doing its own iterations, the schedule runs N times too fast unless its
 * iteration counts are divided by N. We cannot see that from the lr series alone, so this is
 * a reminder raised from the configuration.
 */
import { SECTIONS, defineRule } from '../rule.js';
import { norm } from '../util.js';
import type { RunContext } from '../context.js';

const ITER_UNITS = new Set(['iteration', 'iterations', 'iter', 'step', 'steps', 'batch', 'batches']);

/** Per-iteration when the schedule says so explicitly: a unit/interval field, or a name containing "iter". */
export function perIterationSchedule(ctx: RunContext): boolean {
  const unit = ctx.cfgStr('scheduleUnit') ?? ctx.cfgStr('scheduleInterval');
  if (unit) return ITER_UNITS.has(norm(unit));
  const sch = ctx.config.schedule;
  if (typeof sch === 'string') return /iter/i.test(sch);
  if (sch && typeof sch === 'object') {
    const o = sch as Record<string, unknown>;
    const u = o.unit ?? o.interval ?? o.per;
    return typeof u === 'string' && ITER_UNITS.has(norm(u));
  }
  return false;
}

export const perIterationMultiWorker = defineRule({
  id: 'schedule.per_iteration_multi_worker',
  section: SECTIONS.schedule,
  severity: 'info',
  condition:
    'The lr schedule is stepped per iteration (config.scheduleUnit/scheduleInterval, or schedule.unit/interval ' +
    '= "iteration"/"step"/"batch", or a schedule name containing "iter") and the run has more than one worker ' +
    '(run.worldSize or config.worldSize > 1). Silent when config.scheduleScaledForWorkers is true.',
  thresholds: {},
  requires: ['config.schedule (with its unit)', 'run.worldSize or config.worldSize'],
  advice:
    'With several workers each one advances its own iteration count, so a per-iteration schedule runs faster ' +
    'than planned: divide the schedule\'s iteration counts by the number of workers (by 2 for 2 GPUs).',
  clearAfter: 1,
  create() {
    return {
      check(ctx, sink) {
        const ws = ctx.worldSize();
        if (ws === undefined || ws <= 1 || ctx.config.scheduleScaledForWorkers === true) return;
        if (perIterationSchedule(ctx)) sink.fire(undefined, { worldSize: ws, schedule: ctx.config.schedule ?? null });
      },
    };
  },
});

export default [perIterationMultiWorker];
