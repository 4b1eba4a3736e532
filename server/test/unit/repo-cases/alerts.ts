import { expect } from 'vitest';
import { addRun, alertValues, at, T0, type RepoCase, type Store } from './store.js';

/** a1, a2 (muted, on a layer) on run-001 of vision; a3 (resolved) on gpt-tiny of nlp. */
async function seed(s: Store) {
  const r1 = await addRun(s, 'vision', 'run-001');
  const r2 = await addRun(s, 'nlp', 'gpt-tiny');
  const a1 = await s.alerts.insert(alertValues(r1, { createdAt: at(1), updatedAt: at(2) }));
  const a2 = await s.alerts.insert(alertValues(r1, { rule: 'dead_relu', severity: 'critical', layer: 'conv1', layers: '["conv1"]', muted: true, createdAt: at(3), updatedAt: at(4) }));
  const a3 = await s.alerts.insert(alertValues(r2, { severity: 'info', status: 'resolved', resolvedAt: at(6), resolvedReason: 'ended with the run', createdAt: at(5), updatedAt: at(6) }));
  return { r1, r2, a1, a2, a3 };
}

export const ALERT_CASES: RepoCase[] = [
  {
    name: 'alerts: insert fills the defaults; byId adds the run uid and project name',
    async run(s) {
      const { r1, a1 } = await seed(s);
      const expected = {
        id: 1, runId: r1.id, projectId: r1.projectId, rule: 'loss_spike', section: 'loss', severity: 'warning', status: 'open', acknowledged: false,
        muted: false, layer: null, layers: null, firstStep: 10, lastStep: 12, evidence: '{"z":3.1}', advice: 'lower the learning rate',
        createdAt: at(1), updatedAt: at(2), resolvedAt: null, resolvedReason: null,
      };
      expect(a1).toEqual(expected);
      expect(await s.alerts.byId(1)).toEqual({ ...expected, runUid: 'run-001', project: 'vision' });
      expect(await s.alerts.byId(99)).toBeUndefined();
      expect((await s.alerts.byId(2))?.muted).toBe(true);
    },
  },
  {
    name: 'alerts: progress, partial update (undefined keys left alone), open alerts of a run',
    async run(s) {
      const { r1, a1, a2 } = await seed(s);
      await s.alerts.progress(a1.id, 'critical', 2 ** 35, '{"z":9}', 'stop', '["fc"]', at(9));
      const moved = { ...a1, severity: 'critical', lastStep: 2 ** 35, evidence: '{"z":9}', advice: 'stop', layers: '["fc"]', updatedAt: at(9) };
      expect((await s.alerts.openOfRun(r1.id)).sort((x, y) => x.id - y.id)).toEqual([moved, a2]);
      const acked = await s.alerts.update(a1.id, { acknowledged: true, layer: undefined, updatedAt: at(10) });
      expect(acked).toEqual({ ...moved, acknowledged: true, updatedAt: at(10) });
      expect(await s.alerts.update(99, { muted: true })).toBeUndefined();
      await s.alerts.update(a2.id, { status: 'resolved', resolvedAt: at(11) });
      expect((await s.alerts.openOfRun(r1.id)).map((a) => a.id)).toEqual([a1.id]);
    },
  },
  {
    name: 'alerts.list: every filter, newest first, with a limit and a before-id cursor',
    async run(s) {
      await seed(s);
      const ids = async (f: Partial<Parameters<Store['alerts']['list']>[0]>) => (await s.alerts.list({ limit: 50, ...f })).map((a) => a.id);
      expect(await ids({})).toEqual([3, 2, 1]);
      expect(await ids({ project: 'vision' })).toEqual([2, 1]);
      expect(await ids({ runUid: 'gpt-tiny' })).toEqual([3]);
      expect(await ids({ rule: 'loss_spike' })).toEqual([3, 1]);
      expect(await ids({ severity: ['critical', 'info'] })).toEqual([3, 2]);
      expect(await ids({ severity: [] })).toEqual([3, 2, 1]);
      expect(await ids({ status: 'open' })).toEqual([2, 1]);
      expect(await ids({ layer: 'conv1' })).toEqual([2]);
      expect(await ids({ since: at(4) })).toEqual([3, 2]);
      expect(await ids({ until: at(3) })).toEqual([2, 1]);
      expect(await ids({ beforeId: 3, limit: 1 })).toEqual([2]);
      expect(await ids({ project: 'vision', status: 'open', since: at(2), until: at(1) })).toEqual([1]);
      const [row] = await s.alerts.list({ limit: 1 });
      expect(row).toEqual({ ...(await s.alerts.byId(3)), runUid: 'gpt-tiny', project: 'nlp' });
    },
  },
  {
    name: 'alerts.openCounts: open, unmuted alerts per run and severity',
    async run(s) {
      const { r1, r2 } = await seed(s);
      await s.alerts.insert(alertValues(r1, { rule: 'grad_explode' }));
      await s.alerts.insert(alertValues(r1, { rule: 'nan', severity: 'critical' }));
      await s.alerts.insert(alertValues(r2, { rule: 'nan', severity: 'critical', createdAt: T0 }));
      expect(await s.alerts.openCounts([])).toEqual([]);
      expect(await s.alerts.openCounts([r1.id, r2.id, 99])).toEqual([
        { runId: r1.id, severity: 'critical', n: 1 },
        { runId: r1.id, severity: 'warning', n: 2 },
        { runId: r2.id, severity: 'critical', n: 1 },
      ]);
    },
  },
];
