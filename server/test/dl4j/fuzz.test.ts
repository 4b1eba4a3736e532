/**
 * Fuzzed DL4J messages: random bytes, and valid messages from the test encoder with bytes
 * overwritten, cut, inserted or repeated. The decoder must only ever return a message or refuse
 * with a reason; the server must answer 200 or 400 (never crash, never 5xx), and a 400 must
 * store nothing: the runs that exist and their committed messages are exactly what the 200
 * answers reported.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '@gradwatch/shared';
import { decodeEnvelope } from '../../src/dl4j/envelope.js';
import { mapStatic } from '../../src/dl4j/map-static.js';
import { mapUpdate } from '../../src/dl4j/map-update.js';
import { decodeSbe } from '../../src/dl4j/sbe-decode.js';
import { Dl4jFormatError } from '../../src/dl4j/sbe-reader.js';
import { getJson, removeDir, startServer, type TestServer } from '../helpers.js';
import { post, reportSpec } from './client.js';
import { buildStatic, buildUpdate } from './reports.js';
import { CLASSES, encodeMetaData, encodeStaticInfo, encodeUpdate } from './sbe-encoder.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000_000);
const TYPES = ['MetaData', 'StaticInfo', 'Update'] as const;

/** Valid messages of a few sessions, one per template: the seeds the mutations start from. */
function seeds(session: string): Record<(typeof TYPES)[number], Uint8Array> {
  return {
    MetaData: encodeMetaData({ timeStamp: 5, sessionId: session, typeId: 'StatsListener', workerId: 'w', initTypeClass: CLASSES.beta7.StaticInfo, updateTypeClass: CLASSES.beta7.Update }),
    StaticInfo: encodeStaticInfo(buildStatic({ sessionId: session, workerId: 'w' })),
    Update: encodeUpdate(buildUpdate({ ...reportSpec(session, 'w', 3, 1_000), params: { '0_W': reportSpec(session, 'w', 3, 0).params['0_W'] ?? {} }, acts: { '0': [1, 2, 3, 4] } })),
  };
}

type Mutation = { kind: 'set'; at: number; byte: number } | { kind: 'cut'; at: number } | { kind: 'insert'; at: number; bytes: number[] } | { kind: 'repeat'; at: number; n: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
);

function mutate(bytes: Uint8Array, muts: Mutation[]): Uint8Array {
  let b = Array.from(bytes);
  for (const m of muts) {
    const at = b.length ? m.at % b.length : 0;
    if (m.kind === 'set') b[at] = m.byte;
    else if (m.kind === 'cut') b = b.slice(0, at);
    else if (m.kind === 'insert') b.splice(at, 0, ...m.bytes);
    else b.splice(at, 0, ...b.slice(at, at + m.n));
  }
  return Uint8Array.from(b);
}

/** Decoding and mapping either succeed or refuse with a Dl4jFormatError; nothing else may escape. */
function decodesOrRefuses(bytes: Uint8Array): void {
  let msg;
  try {
    msg = decodeSbe(bytes);
  } catch (e) {
    if (!(e instanceof Dl4jFormatError)) throw e;
    return;
  }
  if (msg.template === 'update') mapUpdate(msg);
  if (msg.template === 'staticInfo') mapStatic(msg);
}

describe('fuzzed SBE bytes', () => {
  const s = seeds('fuzz');
  it('never crash the decoder: random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => decodesOrRefuses(b)), { seed: SEED, numRuns: 3000 });
    // Random bytes behind a valid header reach the group and var-data walkers.
    fc.assert(
      fc.property(fc.constantFrom(...TYPES), fc.uint8Array({ maxLength: 400 }), (t, tail) => decodesOrRefuses(Uint8Array.from([...s[t].subarray(0, 8 + (t === 'Update' ? 32 : t === 'StaticInfo' ? 40 : 8)), ...tail]))),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('never crash the decoder: mutated valid messages', () => {
    fc.assert(fc.property(fc.constantFrom(...TYPES), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (t, muts) => decodesOrRefuses(mutate(s[t], muts))), { seed: SEED, numRuns: 5000 });
  });

  it('never crash the envelope reader', () => {
    const value = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean(), fc.base64String());
    fc.assert(
      fc.property(fc.record({ type: fc.oneof(value, fc.constantFrom(...TYPES)), class: fc.oneof(value, fc.constantFrom(...Object.values(CLASSES.beta7))), data: value }, { requiredKeys: [] }), (body) => {
        try {
          decodeEnvelope(body);
        } catch (e) {
          if (!(e instanceof Dl4jFormatError)) throw e;
        }
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });
});

describe('fuzzed posts to a real server', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer({ env: { GRADWATCH_SYNCHRONOUS: 'NORMAL' } });
  });
  afterAll(async () => {
    await srv.close();
    removeDir(srv.dataDir);
  });

  it('answers 200 or 400, and stores exactly what the 200 answers say', async () => {
    const pool = ['fz-a', 'fz-b', 'fz-c'].map(seeds);
    const stored = new Map<string, number>();
    const statuses = new Map<number, number>();
    const body = fc.oneof(
      { weight: 6, arbitrary: fc.tuple(fc.nat({ max: 2 }), fc.constantFrom(...TYPES), fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([i, t, muts]) => JSON.stringify({ type: t, class: CLASSES.beta7[t], data: Buffer.from(mutate((pool[i] as ReturnType<typeof seeds>)[t], muts)).toString('base64') })) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...TYPES), fc.uint8Array({ maxLength: 300 })).map(([t, b]) => JSON.stringify({ type: t, class: CLASSES.legacy[t], data: Buffer.from(b).toString('base64') })) },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const r = await post(srv.url, b).catch(async () => ({ status: -1, body: {} as { runId?: string; stored?: number } }));
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        expect([200, 400]).toContain(r.status);
        if (r.status === 200) stored.set(r.body.runId as string, (stored.get(r.body.runId as string) ?? 0) + (r.body.stored as number));
      }),
      { seed: SEED, numRuns: Number(process.env.FUZZ_POSTS ?? 600) },
    );
    // Both answers must occur, or the property proved nothing about one of them.
    expect(statuses.get(400) ?? 0, `seed ${SEED}`).toBeGreaterThan(0);
    expect(statuses.get(200) ?? 0, `seed ${SEED}`).toBeGreaterThan(0);
    expect([...stored.values()].some((n) => n > 0), `seed ${SEED}`).toBe(true);
    const listed = (await getJson<{ runs: Array<{ id: string }> }>(`${srv.url}/api/v1/runs?limit=500`)).body.runs.map((r) => r.id).sort();
    expect(listed, `seed ${SEED}`).toEqual([...stored.keys()].sort());
    for (const [run, n] of stored) expect((await getJson<RunDetail>(`${srv.url}/api/v1/runs/${run}`)).body.lastSeq, `${run}, seed ${SEED}`).toBe(n);
  });
});
