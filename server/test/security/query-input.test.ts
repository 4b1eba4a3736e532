/**
 * Strings from a query that reach a Date or a SQL text match: whatever the schema lets through
 * gets a 2xx or a 4xx, never a 5xx, and means what it says (a leap second is a time; a search
 * is a literal substring: NUL, %, _ and \ are characters, not wildcards).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, hello, RawSocket, removeDir, startServer, type TestServer } from '../helpers.js';
import { sqliteOf } from '../sqlite-access.js';

let srv: TestServer;

async function ingest(id: string, name: string, tags: string[]): Promise<void> {
  const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
  s.send(hello(id, { run: { id, project: 'q', name, tags } }));
  await s.next((m) => m.type === 'welcome');
  s.send({ type: 'steps', seq: 1, items: [{ step: 1, time: 1_800_000_000, epoch: 0, scalars: { loss: 1 } }] });
  await s.ack(1);
  s.close();
}

function alertAt(runUid: string, at: string): number {
  const db = sqliteOf(srv.app);
  const run = db.prepare('SELECT id, project_id AS projectId FROM runs WHERE uid = ?').get(runUid) as { id: number; projectId: number };
  return Number(
    db.prepare(`INSERT INTO alerts (run_id, project_id, rule, section, severity, status, first_step, last_step, evidence, advice, created_at, updated_at)
      VALUES (?, ?, 'q', 'test', 'warning', 'open', 1, 1, '{}', 'none', ?, ?)`).run(run.id, run.projectId, at, at).lastInsertRowid,
  );
}

const ids = async (path: string): Promise<number[]> => {
  const r = await getJson<{ alerts: Array<{ id: number }> }>(`${srv.url}${path}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.alerts.map((a) => a.id).sort((a, b) => a - b);
};
const found = async (search: string): Promise<string[]> => {
  const r = await getJson<{ runs: Array<{ id: string }> }>(`${srv.url}/api/v1/runs?search=${encodeURIComponent(search)}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.runs.map((x) => x.id).sort();
};

let before = 0;
let after = 0;

beforeAll(async () => {
  srv = await startServer();
  await ingest('plain', 'Plain run', ['baseline']);
  await ingest('under_score', 'lr 10% sweep', ['a"quote', 'back\\slash']);
  await ingest('upper', 'ALPHA', []);
  before = alertAt('plain', '2016-12-31T23:59:59.000Z');
  after = alertAt('plain', '2017-01-01T00:00:00.000Z');
});

afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

describe('times in queries', () => {
  it('reads a leap second as the last instant before the next minute, on since and until, on both alert listings', async () => {
    const leap = encodeURIComponent('2016-12-31T23:59:60Z');
    expect(await ids(`/api/v1/alerts?since=${leap}`)).toEqual([after]);
    expect(await ids(`/api/v1/alerts?until=${leap}`)).toEqual([before]);
    expect(await ids(`/api/v1/runs/plain/alerts?since=${leap}`)).toEqual([after]);
    expect(await ids(`/api/v1/runs/plain/alerts?until=${leap}`)).toEqual([before]);
    // The same leap second written with an offset.
    expect(await ids(`/api/v1/alerts?since=${encodeURIComponent('2017-01-01T00:59:60+01:00')}`)).toEqual([after]);
  });

  it('reads an offset of hours alone and a lower-case t and z, as RFC 3339 allows', async () => {
    expect(await ids(`/api/v1/alerts?until=${encodeURIComponent('2017-01-01T01:00:00+01')}`)).toEqual([before, after]);
    expect(await ids(`/api/v1/alerts?until=${encodeURIComponent('2016-12-31t23:59:59.5z')}`)).toEqual([before]);
  });

  it('answers every date-time the schema accepts with a 200 or a 400, never a 5xx', async () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const stamp = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')), two(13), two(32), fc.constantFrom('T', 't', ' '),
        two(24), two(60), two(61), fc.option(fc.stringMatching(/^[0-9]{1,12}$/)),
        fc.oneof(fc.constantFrom('Z', 'z'), fc.tuple(fc.constantFrom('+', '-'), two(24), fc.constantFrom('', ':'), fc.option(two(60))).map(([s, h, c, m]) => `${s}${h}${m === null ? '' : c + m}`)),
      )
      .map(([y, mo, d, sep, h, mi, s, f, z]) => `${y}-${mo}-${d}${sep}${h}:${mi}:${s}${f === null ? '' : `.${f}`}${z}`);
    const bad: string[] = [];
    await fc.assert(
      fc.asyncProperty(stamp, fc.constantFrom('/api/v1/alerts?since=', '/api/v1/alerts?until=', '/api/v1/runs/plain/alerts?since='), async (t, path) => {
        const r = await fetch(`${srv.url}${path}${encodeURIComponent(t)}`);
        await r.text();
        if (r.status >= 500 || (r.status !== 200 && r.status !== 400)) bad.push(`${path}${t}: ${r.status}`);
      }),
      { numRuns: 300 },
    );
    expect(bad).toEqual([]);
  });
});

describe('run search', () => {
  it('matches a search containing NUL against nothing, not against every run', async () => {
    expect(await found('\0')).toEqual([]);
    expect(await found('Plain\0')).toEqual([]);
    expect(await found('%\0')).toEqual([]);
  });

  it('treats %, _ and \\ as characters, in names, ids and tags alike', async () => {
    expect(await found('%')).toEqual(['under_score']);
    expect(await found('_')).toEqual(['under_score']);
    expect(await found('r_s')).toEqual(['under_score']);
    expect(await found('\\')).toEqual(['under_score']);
    expect(await found('"')).toEqual(['under_score']);
    expect(await found('P%n')).toEqual([]);
  });

  it('still finds substrings of names, ids and tags, ignoring ASCII case', async () => {
    expect(await found('plain')).toEqual(['plain']);
    expect(await found('alpha')).toEqual(['upper']);
    expect(await found('BASELINE')).toEqual(['plain']);
    expect(await found('score')).toEqual(['under_score']);
    expect(await found('a')).toEqual(['plain', 'under_score', 'upper']);
  });
});

describe('every string parameter of the listings', () => {
  it('answers arbitrary text (NUL, control characters, quotes, SQL, unicode) with a 200 or a 400, never a 5xx', async () => {
    const cursorOf = (v: unknown) => Buffer.from(JSON.stringify(v) ?? '').toString('base64url');
    const cursors = [[1, 2], { a: 1 }, null, ['2020-01-01', 1e308], ['x', -1], ['x', 1.5], ['x'], 'x', [['x'], 1], ['\0', 0]].map(cursorOf);
    const params: Array<[string, string[]]> = [
      ['/api/v1/runs', ['project', 'search', 'cursor', 'status']],
      ['/api/v1/alerts', ['project', 'run', 'rule', 'layer', 'cursor', 'severity', 'status']],
      ['/api/v1/runs/plain/alerts', ['project', 'rule', 'layer']],
    ];
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('\0', '%', '_', "'; DROP TABLE runs;--", '"', '\\', '\u0000%', '*', '[', 'NULL', ...cursors),
    );
    const bad: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...params), fc.nat(), text, async ([path, names], i, v) => {
        let q: string;
        try {
          q = encodeURIComponent(v);
        } catch {
          return; // a lone surrogate cannot be put in a URL
        }
        const name = names[i % names.length] as string;
        const r = await fetch(`${srv.url}${path}?${name}=${q}`);
        const body = await r.text();
        if (r.status !== 200 && r.status !== 400) bad.push(`${path}?${name}=${q}: ${r.status} ${body.slice(0, 100)}`);
      }),
      { numRuns: 400 },
    );
    expect(bad).toEqual([]);
  });
});
