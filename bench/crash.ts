/**
 * Crash benchmark: N training jobs stream through the TS client while the server process is
 * SIGKILLed at random moments and restarted on the same data dir; afterwards every acked value
 * is looked up. Prints acked, found, lost, duplicated, changed (the last three must be 0) for
 * points, eval metrics and histograms, and duplicated alerts. Exits 1 if any is not 0.
 *
 *   npx tsx bench/crash.ts [--clients 16] [--kills 20] [--layers 4] [--rate 300] [--seed N] [--smoke]
 */
import { parseArgs } from 'node:util';
import { runCrashScenario } from '../server/test/reliability/crash-harness.js';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '16' },
    kills: { type: 'string', default: '20' },
    layers: { type: 'string', default: '4' },
    rate: { type: 'string', default: '300' },
    'min-up': { type: 'string', default: '500' },
    'max-up': { type: 'string', default: '3000' },
    seed: { type: 'string' },
    smoke: { type: 'boolean', default: false },
  },
});
const seed = args.seed !== undefined ? Number(args.seed) : Date.now() % 1_000_000;
const opts = {
  clients: args.smoke ? 4 : Number(args.clients),
  kills: args.smoke ? 2 : Number(args.kills),
  layers: Number(args.layers),
  stepsPerSecond: Number(args.rate),
  minUpMs: Number(args['min-up']),
  maxUpMs: Number(args['max-up']),
  seed,
  log: (l: string) => console.log(`  ${l}`),
};
console.log(`crash: ${opts.clients} clients x ${opts.layers} layers (${opts.layers * 20 + 2} values/step, ${opts.stepsPerSecond} steps/s each), ${opts.kills} SIGKILLs every ${opts.minUpMs}-${opts.maxUpMs} ms, seed ${seed}`);
const f = await runCrashScenario(opts);
console.log(`\n  messages        ${f.messages}`);
console.log(`  acked values    ${f.acked}  (${f.ackedBeforeKills} of them acked before a kill; ${f.histograms.acked} histograms)`);
console.log(`  found           ${f.found}`);
console.log(`  lost            ${f.lost}`);
console.log(`  duplicated      ${f.duplicated}`);
console.log(`  changed         ${f.changed}`);
console.log(`  alerts          ${f.alerts.total}, duplicated ${f.alerts.duplicated}`);
console.log(`  rejected ${f.rejected}, stuck clients ${f.stuckClients}, ${f.seconds.toFixed(0)} s`);
const ok = f.lost === 0 && f.duplicated === 0 && f.changed === 0 && f.alerts.duplicated === 0 && f.rejected === 0 && f.stuckClients === 0 && f.found === f.acked;
console.log(ok ? '\nOK: nothing acked was lost, duplicated or changed' : '\nFAIL');
process.exit(ok ? 0 : 1);
