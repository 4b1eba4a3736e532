/**
 * Fuzzing with fast-check: valid messages derived from the protocol's TypeBox schemas, each
 * mutated in one field (wrong types, huge and tiny numbers, deep nesting, unicode, __proto__ and
 * constructor keys, SQL-looking strings, seq and step games), plus raw garbage, sent to the
 * ingest socket, the live socket and REST query parameters. The server must never crash, must
 * answer every message with a clear error (or an ack / welcome / ready when the mutation
 * happened to be valid), must store nothing of what it rejected, and must store exactly the
 * valid traffic streamed by two well-behaved clients at the same time.
 *
 * FUZZ_MESSAGES (default 10,000, sized for CI; `npm run bench:fuzz` sends 100,000) sets the total;
 * FUZZ_SEED reproduces a run.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestClient } from '@gradwatch/client';
import {
  encodeNum, LiveAuth, LiveSubscribe, LiveUnsubscribe, SeriesQuery,
} from '@gradwatch/shared';
import { noRules, removeDir, startServer, type TestServer } from '../helpers.js';
import { arbOf, FRAME, garbage, mutate, mutation, type Json } from './fuzz-arbitraries.js';
import { checkError, Conn, type Reply } from './fuzz-conn.js';
import { ADMIN, IngestDriver, ingestCase, type RunModel } from './fuzz-ingest.js';
import { checkStored } from './fuzz-oracle.js';
import { sqliteOf } from '../sqlite-access.js';

const TOTAL = Number(process.env.FUZZ_MESSAGES ?? 10_000);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000_000);
const INGEST_SHARE = 0.7;
const LIVE_SHARE = 0.15;
const BATCH = 250;
const CONNS = 6;


// ---------------------------------------------------------------------------------------------

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer({
    ...(process.env.FUZZ_NORULES ? { engineFactory: noRules } : {}),
    env: {
      GRADWATCH_ADMIN_TOKEN: ADMIN, GRADWATCH_SYNCHRONOUS: 'NORMAL', GRADWATCH_MAX_FRAME_BYTES: String(FRAME),
      GRADWATCH_MAX_MESSAGES_PER_SECOND: '1000000', GRADWATCH_MAX_ERRORS_PER_MINUTE: '100000000', GRADWATCH_MAX_HELLOS_PER_MINUTE: '100000000', GRADWATCH_MAX_SERIES_PER_RUN: '2000', GRADWATCH_MAX_LAYERS: '50',
    },
  });
});
afterAll(async () => {
  await srv?.close();
  if (srv) removeDir(srv.dataDir);
});

/** fc.check with a short report: the seed, the path to replay and the first error, not the whole batch. */
async function check<T>(prop: fc.IAsyncPropertyWithHooks<T> | fc.IAsyncProperty<T>, params: fc.Parameters<T>): Promise<void> {
  const out = await fc.check(prop, params);
  if (out.failed) {
    const err = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
    throw new Error(`fuzz failure after ${out.numRuns} runs (seed ${out.seed}, path ${out.counterexamplePath ?? '-'}, shrunk ${out.numShrinks} times): ${err.slice(0, 2000)}`);
  }
}

/** Bounded shrinking: after a failure, this many more runs may fail; then every run passes. */
function bounded<T>(budget: number, prop: (x: T) => Promise<void>): (x: T) => Promise<boolean> {
  let failures = 0;
  return async (x) => {
    if (failures > budget) return true;
    try {
      await prop(x);
      return true;
    } catch (e) {
      failures++;
      throw e;
    }
  };
}

/** encodeURIComponent that survives lone surrogates (sent as raw percent-escaped bytes). */
const enc = (x: string): string => {
  try {
    return encodeURIComponent(x);
  } catch {
    return [...Buffer.from(x, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  }
};

const valueOf = (c: number, step: number) => Math.sin(step * 0.123 + c) * 10 ** ((step % 11) - 5);

describe('fuzzing', () => {
  const counts = { ingest: 0, live: 0, rest: 0 };

  it(`ingest: ${Math.round(TOTAL * INGEST_SHARE)} mutated and garbage messages, with valid traffic interleaved`, async () => {
    const target = Math.round(TOTAL * INGEST_SHARE);
    const drivers = Array.from({ length: CONNS }, (_, i) => new IngestDriver(srv.wsUrl, `fz${i}`));
    for (const d of drivers) await d.hello();
    // Two well-behaved jobs stream valid data through the same group commits.
    const valid = [0, 1].map((c) => new IngestClient({ url: srv.wsUrl, token: ADMIN, run: { id: `valid-${c}`, project: 'fuzz', name: 'valid' }, batchSize: 20, flushMs: 5 }));
    await Promise.all(valid.map((v) => v.connect()));
    let validSteps = 0;
    let streaming = true;
    const pump = (async () => {
      while (streaming) {
        for (const [c, v] of valid.entries()) for (let k = 0; k < 20; k++) v.step({ step: validSteps + k, scalars: { loss: encodeNum(valueOf(c, validSteps + k)), lr: 1e-3 } });
        validSteps += 20;
        await new Promise((r) => setTimeout(r, 15));
      }
    })();

    const runs = Math.ceil(target / BATCH);
    const timing = { send: 0, t0: performance.now() };
    await check(
      fc.asyncProperty(fc.array(ingestCase, { minLength: BATCH, maxLength: BATCH }), bounded(20, async (cases) => {
        const t = performance.now();
        const per = Math.ceil(cases.length / drivers.length);
        await Promise.all(drivers.map(async (d, i) => {
          for (const c of cases.slice(i * per, (i + 1) * per)) await d.one(c);
        }));
        counts.ingest += cases.length;
        timing.send += performance.now() - t;
      })),
      { numRuns: runs, seed: SEED },
    );
    if (process.env.FUZZ_PROFILE) console.log([...IngestDriver.times].map(([k, [n, ms]]) => `${k}: ${n} x ${(ms / n).toFixed(2)} ms`).join('\n'));
    console.log(`ingest fuzz: ${counts.ingest} messages in ${((performance.now() - timing.t0) / 1000).toFixed(1)} s, ${(timing.send / 1000).toFixed(1)} s of it sending`);
    streaming = false;
    await pump;
    await Promise.all(valid.map((v) => v.flush(30_000)));

    // The server is alive and answers.
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
    for (const d of drivers) expect(d.conn.pending).toBe(0);

    // Valid traffic: every value stored exactly.
    const auth = { headers: { authorization: `Bearer ${ADMIN}` } };
    for (const [c, v] of valid.entries()) {
      expect(v.rejected).toEqual([]);
      const pts = ((await (await fetch(`${srv.url}/api/v1/runs/valid-${c}/series/export?name=loss`, auth)).json()) as { points: Array<[number, number | string]> }).points;
      expect(pts.length).toBe(validSteps);
      expect(pts.every(([s, x], i) => s === i && x === encodeNum(valueOf(c, i)))).toBe(true);
      v.close();
    }

    // Fuzzed runs: what was acked is stored, and nothing of what was rejected.
    const merged = new Map<string, RunModel>();
    for (const d of drivers) for (const [run, m] of d.models) merged.set(run, m);
    const checkedRuns = await checkStored(srv.url, ADMIN, merged);
    expect(checkedRuns).toBeGreaterThan(0);
    expect(sqliteOf(srv.app).pragma('integrity_check', { simple: true })).toBe('ok');
    // No prototype was polluted by a __proto__ key.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  }, 600_000);

  it(`live socket: ${Math.round(TOTAL * LIVE_SHARE)} mutated and garbage messages`, async () => {
    const target = Math.round(TOTAL * LIVE_SHARE);
    const liveCase = fc.oneof(
      { weight: 1, arbitrary: fc.record({ msg: arbOf(LiveAuth as never), mutation }) },
      { weight: 3, arbitrary: fc.record({ msg: arbOf(LiveSubscribe as never), mutation }) },
      { weight: 2, arbitrary: fc.record({ msg: arbOf(LiveUnsubscribe as never), mutation }) },
      { weight: 1, arbitrary: garbage.map((g) => ({ garbage: g })) },
    );
    const conns: Conn[] = [];
    const open = async (i: number) => (conns[i] = await Conn.open(`${srv.wsUrl}/v1/live?token=${ADMIN}`, ['ready', 'error']));
    for (let i = 0; i < 4; i++) await open(i);
    await check(
      fc.asyncProperty(fc.array(liveCase, { minLength: BATCH, maxLength: BATCH }), bounded(20, async (cases) => {
        const per = Math.ceil(cases.length / conns.length);
        await Promise.all(conns.map(async (_, i) => {
          for (const c of cases.slice(i * per, (i + 1) * per)) {
            let conn = conns[i] as Conn;
            if (conn.closeCode !== null) conn = await open(i);
            let text: string | Uint8Array;
            if ('garbage' in c) text = c.garbage.binary ?? (c.garbage.text as string);
            else {
              const m = mutate(c.msg, c.mutation) as Record<string, Json>;
              // Tokens stay valid unless the mutation is about them (a bad one closes the socket).
              if (m && typeof m === 'object' && m.type === 'auth' && typeof m.token === 'string' && c.mutation.kind === 'none') m.token = ADMIN;
              text = JSON.stringify(m) ?? 'null';
            }
            conn.send(text);
            const r = await conn.next();
            if (r.type === 'closed') {
              if (!conn.lastError || !['unauthorized', 'forbidden', 'bad_message', 'frame_too_large'].includes(String(conn.lastError.code))) throw new Error(`live socket closed (${(r as { code: number }).code}) without a reason after ${String(text).slice(0, 200)}; last error ${JSON.stringify(conn.lastError)}`);
              continue;
            }
            if (r.type === 'error') checkError(r as Reply, 'live');
          }
        }));
        counts.live += cases.length;
      })),
      { numRuns: Math.ceil(target / BATCH), seed: SEED + 1 },
    );
    for (const c of conns) c.close();
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
  }, 300_000);

  it(`REST: ${Math.round(TOTAL * (1 - INGEST_SHARE - LIVE_SHARE))} requests with mutated and garbage query parameters`, async () => {
    const target = Math.round(TOTAL * (1 - INGEST_SHARE - LIVE_SHARE));
    const auth = { authorization: `Bearer ${ADMIN}` };
    const routes: Array<{ path: string; query: fc.Arbitrary<Json> }> = [
      { path: '/api/v1/runs', query: fc.record({ project: fc.constantFrom('fuzz', 'x'), status: fc.constantFrom('live', 'stale,completed', 'failed'), search: fc.string({ maxLength: 10 }), cursor: fc.string({ maxLength: 10 }), limit: fc.integer({ min: 1, max: 500 }) }, { requiredKeys: [] }) },
      { path: '/api/v1/runs/valid-0/query', query: arbOf(SeriesQuery as never).map((q) => ({ ...(q as object), series: 'loss,lr' })) },
      { path: '/api/v1/runs/valid-0/series/export', query: fc.record({ name: fc.constantFrom('loss', 'lr', 'nope'), format: fc.constantFrom('json', 'csv') }, { requiredKeys: ['name'] }) },
      { path: '/api/v1/runs/valid-0/steps', query: fc.record({ from: fc.nat(), to: fc.nat(), limit: fc.integer({ min: 1, max: 100000 }) }, { requiredKeys: [] }) },
      { path: '/api/v1/runs/fz0-0/histograms', query: fc.record({ layer: fc.string({ maxLength: 10 }), of: fc.constantFrom('param', 'grad', 'update', 'act'), from: fc.nat(), to: fc.nat(), limit: fc.integer({ min: 1, max: 1000 }) }, { requiredKeys: [] }) },
      { path: '/api/v1/alerts', query: fc.record({ project: fc.constant('fuzz'), run: fc.constant('valid-0'), severity: fc.constantFrom('info', 'warning,critical'), status: fc.constantFrom('open', 'resolved'), since: fc.constant('2020-01-01T00:00:00Z'), cursor: fc.constant('10'), limit: fc.integer({ min: 1, max: 500 }) }, { requiredKeys: [] }) },
      { path: '/api/v1/runs/valid-0/alerts', query: fc.record({ status: fc.constantFrom('open', 'resolved'), limit: fc.integer({ min: 1, max: 500 }) }, { requiredKeys: [] }) },
    ];
    const restCase = fc.record({
      route: fc.nat({ max: routes.length - 1 }).chain((i) => fc.tuple(fc.constant(i), (routes[i] as (typeof routes)[number]).query)),
      mutation,
      raw: fc.option(fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.constantFrom('a=1&a=2&a=3', '__proto__[x]=1', 'constructor=1&prototype=2', '%', '%zz', '&&&', '=', 'limit=1e400', 'limit=-0', 'series=' + ','.repeat(600), 'from=NaN&to=Infinity')), { freq: 4 }),
      badPath: fc.option(fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('..%2F..%2Fetc', "'; DROP TABLE runs;--", '%00', 'x'.repeat(300), '__proto__')), { freq: 8 }),
    });
    await check(
      fc.asyncProperty(fc.array(restCase, { minLength: BATCH, maxLength: BATCH }), bounded(20, async (cases) => {
        for (const c of cases) {
          const [ri, q] = c.route;
          const route = routes[ri] as (typeof routes)[number];
          const mutated = mutate(q, c.mutation) as Record<string, Json>;
          let qs: string;
          if (c.raw !== null) qs = c.raw.replace(/[#\s]/g, '');
          else if (mutated && typeof mutated === 'object' && !Array.isArray(mutated)) {
            qs = Object.entries(mutated).map(([k, v]) => `${enc(k)}=${enc(typeof v === 'string' ? v : JSON.stringify(v) ?? '')}`).join('&');
          } else qs = enc(JSON.stringify(mutated) ?? '');
          let path = route.path;
          if (c.badPath !== null) path = path.replace(/\/runs\/[^/]+/, `/runs/${enc(c.badPath)}`);
          const res = await srv.app.inject({ method: 'GET', url: `${path}?${qs}`, headers: auth });
          if (res.statusCode >= 500) throw new Error(`GET ${path}?${qs} → ${res.statusCode} ${res.body.slice(0, 300)}`);
          if (res.statusCode >= 400) {
            const body = JSON.parse(res.body) as { statusCode: number; message: string };
            if (body.statusCode !== res.statusCode || typeof body.message !== 'string' || body.message.length < 5) throw new Error(`unclear error: ${res.body}`);
          }
        }
        counts.rest += cases.length;
      })),
      { numRuns: Math.ceil(target / BATCH), seed: SEED + 2 },
    );
    const total = counts.ingest + counts.live + counts.rest;
    console.log(`fuzz (seed ${SEED}): ${total} messages: ingest ${counts.ingest}, live ${counts.live}, REST ${counts.rest}`);
    expect(total).toBeGreaterThanOrEqual(TOTAL * 0.99);
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
  }, 300_000);
});
