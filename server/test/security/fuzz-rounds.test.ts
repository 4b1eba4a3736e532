/**
 * Fuzzing in rounds, with what happens to a real server between and during them: between rounds
 * the server is restarted (same port and file) or every driver rewinds its run; during them peers
 * that flood and never read run alongside; the drivers' runs have ids that differ only in ways a
 * careless layer would fold together (case, leading zeros, number spellings, prototype names).
 * Each fuzzed run must hold exactly what was acked, and a well-behaved job streaming through it
 * all (restarts included) must lose nothing.
 *
 * FUZZ_ROUNDS (default 6) and FUZZ_ROUND_MESSAGES (default 250) set the size; FUZZ_SEED replays.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestClient } from '@gradwatch/client';
import { encodeNum } from '@gradwatch/shared';
import { removeDir, startServer, type TestServer } from '../helpers.js';
import { FRAME } from './fuzz-arbitraries.js';
import { nonCanonicalIds, restartOnSamePort, startNonReaders } from './fuzz-hostile.js';
import { ADMIN, IngestDriver, ingestCase, type RunModel } from './fuzz-ingest.js';
import { checkStored } from './fuzz-oracle.js';
import { sqliteOf } from '../sqlite-access.js';

const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 6);
const PER_ROUND = Number(process.env.FUZZ_ROUND_MESSAGES ?? 250);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000_000);
const DRIVERS = 3;
const ENV = {
  GRADWATCH_ADMIN_TOKEN: ADMIN, GRADWATCH_SYNCHRONOUS: 'NORMAL', GRADWATCH_MAX_FRAME_BYTES: String(FRAME),
  GRADWATCH_MAX_MESSAGES_PER_SECOND: '1000000', GRADWATCH_MAX_ERRORS_PER_MINUTE: '100000', GRADWATCH_MAX_HELLOS_PER_MINUTE: '100000000', GRADWATCH_MAX_SERIES_PER_RUN: '2000',
  GRADWATCH_MAX_LAYERS: '50', GRADWATCH_MAX_BUFFERED_BYTES: '65536',
};

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer({ env: ENV });
});
afterAll(async () => {
  await srv?.close();
  if (srv) removeDir(srv.dataDir);
});

const valueOf = (step: number) => Math.sin(step * 0.37) * 10 ** ((step % 7) - 3);

describe('fuzzing in rounds', () => {
  it(`${ROUNDS} rounds of ${PER_ROUND} cases with restarts, rewinds, non-reading peers and non-canonical ids`, async () => {
    const drivers = Array.from({ length: DRIVERS }, (_, i) => new IngestDriver(srv.wsUrl, `fr${i}`, nonCanonicalIds(`fr${i}-`, i === 0)));
    for (const d of drivers) await d.hello();
    const valid = new IngestClient({ url: srv.wsUrl, token: ADMIN, run: { id: 'rounds-valid', project: 'fuzz', name: 'valid' }, batchSize: 10, flushMs: 5, maxBackoffMs: 200 });
    await valid.connect();
    let validSteps = 0;
    let streaming = true;
    const pump = (async () => {
      while (streaming) {
        for (let k = 0; k < 10; k++) valid.step({ step: validSteps + k, scalars: { loss: encodeNum(valueOf(validSteps + k)) } });
        validSteps += 10;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const nonReaders = startNonReaders(srv.wsUrl, ADMIN, 4);
    const rounds = fc.sample(fc.array(ingestCase, { minLength: PER_ROUND, maxLength: PER_ROUND }), { numRuns: ROUNDS, seed: SEED });
    const between: string[] = [];
    /** ms of each round and of what came between, for the log. */
    const timings: number[] = [];
    try {
      for (const [r, cases] of rounds.entries()) {
        const t0 = performance.now();
        const per = Math.ceil(cases.length / DRIVERS);
        await Promise.all(drivers.map(async (d, i) => {
          for (const c of cases.slice(i * per, (i + 1) * per)) await d.one(c);
        }));
        timings.push(Math.round(performance.now() - t0));
        if (r === rounds.length - 1) break;
        const t1 = performance.now();
        if (r % 3 === 0) {
          between.push('restart');
          srv = await restartOnSamePort(srv, ENV);
          // The drivers' sockets were closed by the shutdown; each says hello again (to its next id).
          for (const d of drivers) await d.hello();
        } else if (r % 3 === 1) {
          between.push('rewind');
          for (const d of drivers) await d.rewind(Math.max(0, Math.floor(d.lastStep / 2)));
        } else {
          between.push('new ids');
          for (const d of drivers) {
            await d.reopen();
            await d.hello();
          }
        }
        timings.push(Math.round(performance.now() - t1));
      }
    } catch (e) {
      throw new Error(`seed ${SEED} (after ${between.join(', ') || 'no round'}): ${(e as Error).message}`);
    }
    const flooded = await nonReaders.stop();
    streaming = false;
    await pump;
    await valid.flush(30_000);
    console.log(`fuzz rounds (seed ${SEED}): ${ROUNDS} x ${PER_ROUND} cases, between rounds: ${between.join(', ')}; non-readers: ${flooded.connects} connections, ${flooded.closedByServer} closed by the server; ms per round / between: ${timings.join(' / ')}`);

    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
    for (const d of drivers) expect(d.conn.pending).toBe(0);
    // The floods ran, and the server cut them (garbage before hello: after a handful of errors).
    expect(flooded.closedByServer).toBeGreaterThan(0);

    // The valid job lost nothing across restarts, non-readers and fuzzing.
    expect(valid.rejected).toEqual([]);
    const pts = ((await (await fetch(`${srv.url}/api/v1/runs/rounds-valid/series/export?name=loss`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { points: Array<[number, number | string]> }).points;
    expect(pts.length).toBe(validSteps);
    expect(pts.every(([s, x], i) => s === i && x === encodeNum(valueOf(i)))).toBe(true);
    valid.close();

    const merged = new Map<string, RunModel>();
    for (const d of drivers) for (const [run, m] of d.models) merged.set(run, m);
    // Ids that differ only by case, zeros or spelling are distinct runs, each with its own data.
    expect(merged.size).toBeGreaterThan(DRIVERS * 3);
    expect(await checkStored(srv.url, ADMIN, merged)).toBeGreaterThan(0);
    expect(sqliteOf(srv.app).pragma('integrity_check', { simple: true })).toBe('ok');
  }, 600_000);
});
