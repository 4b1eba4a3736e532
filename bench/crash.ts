/**
 * Crash benchmark: N training jobs stream through the TS client while the server process is
 * SIGKILLed at random moments and restarted on the same data dir; afterwards every acked value
 * is looked up. Prints acked, found, lost, duplicated, changed (the last three must be 0) for
 * points, eval metrics and histograms, and duplicated alerts. Exits 1 if any is not 0.
 *
 * With --database-url (a PostgreSQL server where the bench may CREATE DATABASE) the same
 * scenario runs twice: on SQLite first, then on a fresh PostgreSQL database shared by --servers
 * server processes (default 2), jobs spread over them, each kill SIGKILLing one at random.
 *
 *   npx tsx bench/crash.ts [--clients 16] [--kills 20] [--layers 4] [--rate 300] [--seed N] [--smoke]
 *                          [--database-url postgres://user@host:5432/postgres] [--servers 2]
 */
import { parseArgs } from 'node:util';
import { runCrashScenario, type CrashFigures } from '../server/test/reliability/crash-harness.js';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '16' },
    kills: { type: 'string', default: '20' },
    layers: { type: 'string', default: '4' },
    rate: { type: 'string', default: '300' },
    'min-up': { type: 'string', default: '500' },
    'max-up': { type: 'string', default: '3000' },
    seed: { type: 'string' },
    'database-url': { type: 'string' },
    servers: { type: 'string', default: '2' },
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
const cases: Array<{ label: string; databaseUrl?: string; servers: number }> = [{ label: 'SQLite', servers: 1 }];
const url = args['database-url'];
if (url) cases.push({ label: `PostgreSQL, ${args.servers} servers`, databaseUrl: url, servers: Number(args.servers) });

const okOf = (f: CrashFigures): boolean =>
  f.lost === 0 && f.duplicated === 0 && f.changed === 0 && f.alerts.duplicated === 0 && f.rejected === 0 && f.stuckClients === 0 && f.found === f.acked && f.nan.kept === f.nan.acked;
let allOk = true;
for (const c of cases) {
  console.log(`\n${c.label} crash: ${opts.clients} clients x ${opts.layers} layers (${opts.layers * 20 + 2} values/step, ${opts.stepsPerSecond} steps/s each), ${opts.kills} SIGKILLs every ${opts.minUpMs}-${opts.maxUpMs} ms, seed ${seed}`);
  const f = await runCrashScenario({ ...opts, servers: c.servers, ...(c.databaseUrl ? { databaseUrl: c.databaseUrl } : {}) });
  console.log(`\n  messages        ${f.messages}`);
  console.log(`  acked values    ${f.acked}  (${f.ackedBeforeKills} of them acked before a kill; ${f.histograms.acked} histograms)`);
  console.log(`  found           ${f.found}`);
  console.log(`  lost            ${f.lost}`);
  console.log(`  duplicated      ${f.duplicated}`);
  console.log(`  changed         ${f.changed}`);
  console.log(`  NaN losses      ${f.nan.acked} acked, ${f.nan.kept} kept as NaN`);
  console.log(`  alerts          ${f.alerts.total}, duplicated ${f.alerts.duplicated}`);
  console.log(`  rejected ${f.rejected}, stuck clients ${f.stuckClients}, ${f.seconds.toFixed(0)} s`);
  const ok = okOf(f);
  allOk &&= ok;
  console.log(ok ? `\n${c.label} OK: nothing acked was lost, duplicated or changed` : `\n${c.label} FAIL`);
}
process.exit(allOk ? 0 : 1);
