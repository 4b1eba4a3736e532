import { expect } from 'vitest';
import { addRun, alertValues, at, ISO, T0, type RepoCase } from './store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const PROJECT_CASES: RepoCase[] = [
  {
    name: 'projects: ensure creates a project once, with its defaults',
    async run(s) {
      const p = await s.projects.ensure('vision');
      expect(p).toEqual({ id: 1, name: 'vision', ruleSettings: '{}', createdAt: expect.stringMatching(ISO) });
      expect(await s.projects.ensure('vision')).toEqual(p);
      // Ids are opaque: SQLite's AUTOINCREMENT spends one on the conflicting insert, PostgreSQL's ensure() does not.
      expect((await s.projects.ensure('nlp')).id).toBeGreaterThan(p.id);
      expect(await s.projects.byName('vision')).toEqual(p);
      expect(await s.projects.byId(1)).toEqual(p);
      expect(await s.projects.byName('nope')).toBeUndefined();
      expect(await s.projects.byId(99)).toBeUndefined();
      // Servers starting runs of a new project at once all get the one project.
      const racing = await Promise.all([1, 2, 3, 4].map(() => s.projects.ensure('racing')));
      expect(new Set(racing.map((r) => r.id)).size).toBe(1);
    },
  },
  {
    name: 'projects: withCounts in byte order of names, counting runs and their last activity',
    async run(s) {
      for (const n of ['b', 'a', 'B']) await s.projects.ensure(n);
      await addRun(s, 'a', 'r1', { lastSeenAt: at(3) });
      await addRun(s, 'a', 'r2', { lastSeenAt: at(7) });
      const rows = await s.projects.withCounts();
      expect(rows).toEqual([
        { id: 3, name: 'B', ruleSettings: '{}', createdAt: expect.stringMatching(ISO), runCount: 0, lastSeenAt: null },
        { id: 2, name: 'a', ruleSettings: '{}', createdAt: expect.stringMatching(ISO), runCount: 2, lastSeenAt: at(7) },
        { id: 1, name: 'b', ruleSettings: '{}', createdAt: expect.stringMatching(ISO), runCount: 0, lastSeenAt: null },
      ]);
    },
  },
  {
    name: 'projects: rule settings are stored; deleting a project deletes its runs',
    async run(s) {
      const r = await addRun(s, 'vision', 'r1');
      await s.projects.setRuleSettings(r.projectId, '{"loss_spike":{"enabled":false}}');
      expect((await s.projects.byId(r.projectId))?.ruleSettings).toBe('{"loss_spike":{"enabled":false}}');
      await s.projects.delete(r.projectId);
      expect(await s.projects.byId(r.projectId)).toBeUndefined();
      expect(await s.runs.byUid('r1')).toBeUndefined();
    },
  },
];

export const RUN_CASES: RepoCase[] = [
  {
    name: 'runs: insert fills the defaults and returns the row in the SQLite shape (no lease columns)',
    async run(s) {
      const r = await addRun(s, 'vision', 'u1', { name: 'baseline' });
      const expected = {
        id: 1, uid: 'u1', projectId: 1, name: 'baseline', tags: '[]', config: '{}', framework: null, host: null, worldSize: null,
        model: null, diagnoses: '[]', status: 'live', lastSeq: 0, lastStep: null, createdAt: T0, lastSeenAt: T0, endedAt: null,
      };
      expect(r).toEqual(expected);
      expect(await s.runs.byUid('u1')).toEqual(expected);
      expect(await s.runs.byId(1)).toEqual(expected);
      expect(await s.runs.byUid('nope')).toBeUndefined();
      const full = await addRun(s, 'vision', 'u2', { tags: '["a"]', config: '{"lr":0.1}', framework: 'pytorch', host: 'gpu1', worldSize: 8, model: 'resnet' });
      expect(full).toMatchObject({ id: 2, tags: '["a"]', config: '{"lr":0.1}', framework: 'pytorch', host: 'gpu1', worldSize: 8, model: 'resnet' });
    },
  },
  {
    name: 'runs: update writes the keys given and leaves undefined ones alone',
    async run(s) {
      const r = await addRun(s, 'vision', 'u1', { host: 'gpu1' });
      await s.runs.update(r.id, { status: 'ended', endedAt: at(5), host: undefined, diagnoses: '[{"id":"x"}]' });
      expect(await s.runs.byId(r.id)).toEqual({ ...r, status: 'ended', endedAt: at(5), host: 'gpu1', diagnoses: '[{"id":"x"}]' });
    },
  },
  {
    name: 'runs: updateProgress under the current lease stores progress (steps past 2^32 as numbers)',
    async run(s) {
      const r = await addRun(s, 'vision', 'u1');
      const epoch = await s.runs.claim(r.id, 'server-a');
      expect(epoch).toBe(s.shared ? 1 : 0);
      expect(await s.runs.updateProgress(r.id, 7, 2 ** 40, at(1), epoch)).toBe(true);
      expect(await s.runs.byId(r.id)).toEqual({ ...r, lastSeq: 7, lastStep: 2 ** 40, lastSeenAt: at(1) });
    },
  },
  {
    name: 'runs: a takeover fences the earlier owner (a single-server store has nothing to fence)',
    async run(s) {
      const r = await addRun(s, 'vision', 'u1');
      const first = await s.runs.claim(r.id, 'server-a');
      const second = await s.runs.claim(r.id, 'server-b');
      if (!s.shared) {
        expect([first, second]).toEqual([0, 0]);
        expect(await s.runs.updateProgress(r.id, 1, 1, at(1), first)).toBe(true);
        return;
      }
      expect(second).toBe(first + 1);
      expect(await s.runs.updateProgress(r.id, 1, 1, at(1), first)).toBe(false);
      expect((await s.runs.byId(r.id))?.lastSeq).toBe(0);
      expect(await s.runs.updateProgress(r.id, 2, 2, at(2), second)).toBe(true);
      expect((await s.runs.byId(r.id))?.lastSeq).toBe(2);
      // Several runs in one statement: the one under a stale lease is left out, the others written.
      const other = await addRun(s, 'vision', 'u2');
      const otherEpoch = await s.runs.claim(other.id, 'server-a');
      const done = await s.runs.updateProgressMany([{ id: r.id, lastSeq: 3, lastStep: null, epoch: first }, { id: other.id, lastSeq: 5, lastStep: 2 ** 40, epoch: otherEpoch }], at(3));
      expect(done).toEqual([other.id]);
      expect((await s.runs.byId(r.id))?.lastSeq).toBe(2);
      expect(await s.runs.byId(other.id)).toMatchObject({ lastSeq: 5, lastStep: 2 ** 40 });
    },
  },
  {
    name: 'runs: an update waiting on a takeover in flight re-checks the lease and writes nothing',
    sharedOnly: true,
    async run(s) {
      const r = await addRun(s, 'vision', 'u1');
      const old = await s.runs.claim(r.id, 'server-a');
      let commit!: () => void;
      const gate = new Promise<void>((res) => (commit = res));
      let claimed!: () => void;
      const claimedNow = new Promise<void>((res) => (claimed = res));
      const takeover = s.transact(async () => {
        const e = await s.runs.claim(r.id, 'server-b');
        claimed();
        await gate;
        return e;
      });
      await claimedNow;
      let settled = false;
      const stale = s.runs.updateProgress(r.id, 9, 9, at(9), old).finally(() => (settled = true));
      await sleep(150);
      expect(settled).toBe(false); // blocked on the takeover's row lock
      commit();
      expect(await takeover).toBe(old + 1);
      expect(await stale).toBe(false);
      expect((await s.runs.byId(r.id))?.lastSeq).toBe(0);
    },
  },
  {
    name: 'runs: inactiveSince takes the later of last message and end',
    async run(s) {
      await addRun(s, 'vision', 'quiet', { lastSeenAt: at(10) });
      await addRun(s, 'vision', 'ended-late', { lastSeenAt: at(1), endedAt: at(16) });
      await addRun(s, 'vision', 'recent', { lastSeenAt: at(20) });
      await addRun(s, 'nlp', 'old', { lastSeenAt: at(5), endedAt: at(6) });
      expect(await s.runs.inactiveSince(at(15))).toEqual(['quiet', 'old']);
      expect(await s.runs.inactiveSince(at(0))).toEqual([]);
    },
  },
  {
    name: 'runs: events in order, and deleteRun removes the run with its events and alerts',
    async run(s) {
      const r = await addRun(s, 'vision', 'u1');
      const other = await addRun(s, 'vision', 'u2');
      await s.runs.addEvent(r.id, 'start', null, { world: 2 }, T0);
      await s.runs.addEvent(r.id, 'end', 5, {}, at(1));
      expect(await s.runs.events(r.id)).toEqual([
        { id: 1, runId: r.id, kind: 'start', step: null, detail: '{"world":2}', at: T0 },
        { id: 2, runId: r.id, kind: 'end', step: 5, detail: '{}', at: at(1) },
      ]);
      const a = await s.alerts.insert(alertValues(r));
      expect((await s.runs.runsOfProject(r.projectId)).map((x) => x.uid)).toEqual(['u1', 'u2']);
      await s.runs.deleteRun(r.id);
      expect(await s.runs.byId(r.id)).toBeUndefined();
      expect(await s.runs.events(r.id)).toEqual([]);
      expect(await s.alerts.byId(a.id)).toBeUndefined();
      expect(await s.runs.runsOfProject(r.projectId)).toEqual([other]);
    },
  },
  {
    name: 'transact: a failure rolls back everything; a failed nested transaction only itself',
    async run(s) {
      await expect(
        s.transact(async () => {
          await s.projects.ensure('gone');
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await s.projects.byName('gone')).toBeUndefined();
      await s.transact(async () => {
        await s.projects.ensure('outer');
        await s
          .transact(async () => {
            await s.projects.ensure('inner');
            throw new Error('inner boom');
          })
          .catch(() => undefined);
      });
      expect((await s.projects.byName('outer'))?.name).toBe('outer');
      expect(await s.projects.byName('inner')).toBeUndefined();
    },
  },
];
