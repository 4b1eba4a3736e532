import { expect } from 'vitest';
import type { RunFilter } from '../../../src/runs/runs.repo.js';
import { addRun, at, type RepoCase, type Store } from './store.js';

/**
 * Four runs over two projects. Newest first: run-003 and run-002 share a last activity (the
 * higher id first), then run-001, then gpt-tiny.
 */
async function seed(s: Store): Promise<void> {
  await addRun(s, 'vision', 'run-001', { name: 'ResNet-50 baseline', tags: JSON.stringify(['lr=0.1', 'sweep "A"']), lastSeenAt: at(10) });
  await addRun(s, 'vision', 'run-002', { name: 'Évaluation', status: 'ended', lastSeenAt: at(20), endedAt: at(21) });
  await addRun(s, 'vision', 'run-003', { name: 'vit_small 100%', tags: JSON.stringify(['ablation']), lastSeenAt: at(20) });
  await addRun(s, 'nlp', 'gpt-tiny', { name: 'gpt', tags: JSON.stringify(['RES', 7]), status: 'failed', lastSeenAt: at(5) });
}

const base: RunFilter = { staleBefore: at(15), connected: [], limit: 50 };

async function uids(s: Store, f: Partial<RunFilter>): Promise<{ uids: string[]; total: number }> {
  const { rows, total } = await s.runs.list({ ...base, ...f });
  return { uids: rows.map((r) => r.uid), total };
}

/** search → the uids found, newest first. */
const SEARCHES: Array<[string, string[]]> = [
  ['res', ['run-001', 'gpt-tiny']],
  ['RESNET', ['run-001']],
  ['run-00', ['run-003', 'run-002', 'run-001']],
  // ASCII-only case folding, as SQLite's lower(): É is not é.
  ['é', []],
  ['É', ['run-002']],
  // Literal: no LIKE wildcards, no escapes.
  ['100%', ['run-003']],
  ['%', ['run-003']],
  ['_', ['run-003']],
  ['\\', []],
  // Tag values, not their JSON text; non-string values by their text.
  ['sweep "a"', ['run-001']],
  ['\\"', []],
  ['["', []],
  ['7', ['gpt-tiny']],
  ['lr=0.1', ['run-001']],
  ['\0', []],
];

export const RUN_LIST_CASES: RepoCase[] = [
  {
    name: 'runs.list: search is a literal, ASCII-case-insensitive substring of name, uid or a tag value',
    async run(s) {
      await seed(s);
      const got: Array<[string, string[]]> = [];
      for (const [search] of SEARCHES) {
        const r = await uids(s, { search });
        expect(r.total).toBe(r.uids.length);
        got.push([search, r.uids]);
      }
      expect(got).toEqual(SEARCHES);
    },
  },
  {
    name: 'runs.list: a tag PostgreSQL text cannot hold (NUL, lone surrogate) breaks no search',
    async run(s) {
      await seed(s);
      await addRun(s, 'vision', 'odd', { tags: JSON.stringify(['a\u0000q', 'x\ud800k', '\\u0000']), lastSeenAt: at(1) });
      expect(await uids(s, { search: 'q' })).toEqual({ uids: ['odd'], total: 1 });
      expect(await uids(s, { search: 'xk' })).toEqual({ uids: [], total: 0 });
      expect(await uids(s, { search: 'k' })).toEqual({ uids: ['odd'], total: 1 });
      expect(await uids(s, { search: '\\u0000' })).toEqual({ uids: ['odd'], total: 1 });
      expect(await uids(s, { search: 'res' })).toEqual({ uids: ['run-001', 'gpt-tiny'], total: 2 });
    },
  },
  {
    name: 'runs.list: live and stale from last activity and open sockets, other statuses as stored',
    async run(s) {
      await seed(s);
      expect(await uids(s, { statuses: ['live'] })).toEqual({ uids: ['run-003'], total: 1 });
      expect(await uids(s, { statuses: ['stale'] })).toEqual({ uids: ['run-001'], total: 1 });
      expect(await uids(s, { statuses: ['live', 'stale'] })).toEqual({ uids: ['run-003', 'run-001'], total: 2 });
      expect(await uids(s, { statuses: ['live'], connected: ['run-001', 'nope'] })).toEqual({ uids: ['run-003', 'run-001'], total: 2 });
      expect(await uids(s, { statuses: ['stale'], connected: ['run-001'] })).toEqual({ uids: [], total: 0 });
      expect(await uids(s, { statuses: ['ended'] })).toEqual({ uids: ['run-002'], total: 1 });
      expect(await uids(s, { statuses: ['ended', 'failed', 'stale'] })).toEqual({ uids: ['run-002', 'run-001', 'gpt-tiny'], total: 3 });
      expect(await uids(s, { statuses: [] })).toEqual({ uids: ['run-003', 'run-002', 'run-001', 'gpt-tiny'], total: 4 });
    },
  },
  {
    name: 'runs.list: project filter, combined filters, and rows with their project name',
    async run(s) {
      await seed(s);
      expect(await uids(s, { project: 'nlp' })).toEqual({ uids: ['gpt-tiny'], total: 1 });
      expect(await uids(s, { project: 'nope' })).toEqual({ uids: [], total: 0 });
      expect(await uids(s, { project: 'vision', search: 'run', statuses: ['stale', 'ended'] })).toEqual({ uids: ['run-002', 'run-001'], total: 2 });
      const { rows } = await s.runs.list({ ...base, search: 'gpt' });
      expect(rows).toEqual([{ ...(await s.runs.byUid('gpt-tiny')), project: 'nlp' }]);
    },
  },
  {
    name: 'runs.list: cursor pages by (last activity, id), the total counts every match',
    async run(s) {
      await seed(s);
      const p1 = await s.runs.list({ ...base, limit: 2 });
      expect([p1.rows.map((r) => r.uid), p1.total]).toEqual([['run-003', 'run-002'], 4]);
      const last = p1.rows[1]!;
      const p2 = await s.runs.list({ ...base, limit: 2, cursor: { lastSeenAt: last.lastSeenAt, id: last.id } });
      expect([p2.rows.map((r) => r.uid), p2.total]).toEqual([['run-001', 'gpt-tiny'], 4]);
      const end = p2.rows[1]!;
      const p3 = await s.runs.list({ ...base, limit: 2, cursor: { lastSeenAt: end.lastSeenAt, id: end.id } });
      expect([p3.rows, p3.total]).toEqual([[], 4]);
      const filtered = await s.runs.list({ ...base, search: 'run', limit: 1, cursor: { lastSeenAt: at(20), id: 3 } });
      expect([filtered.rows.map((r) => r.uid), filtered.total]).toEqual([['run-002'], 3]);
    },
  },
];
