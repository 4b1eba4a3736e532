import { expect } from 'vitest';
import { hashToken } from '../../../src/tokens/tokens.repo.js';
import { at, ISO, T0, type RepoCase } from './store.js';

const LEASE = 60_000;

export const WEBHOOK_CASES: RepoCase[] = [
  {
    name: 'webhooks: insert, per-project listing, lookup and delete (its deliveries with it)',
    async run(s) {
      const p = await s.projects.ensure('vision');
      const other = await s.projects.ensure('nlp');
      const h1 = await s.webhooks.insert(p.id, 'https://hooks.example/a', 'sec-a', false, T0);
      expect(h1).toEqual({ id: 1, projectId: p.id, url: 'https://hooks.example/a', createdAt: T0, secret: 'sec-a', alerts: false });
      const h2 = await s.webhooks.insert(p.id, 'https://hooks.example/b', 'sec-b', true, at(1));
      await s.webhooks.insert(other.id, 'https://hooks.example/c', 'sec-c', true, at(2));
      expect(await s.webhooks.ofProject(p.id)).toEqual([h1, h2]);
      expect(await s.webhooks.byId(2)).toEqual(h2);
      await s.webhooks.enqueueAll(p.id, false, null, '{"event":"diagnosis"}', 0, T0);
      await s.webhooks.enqueueAll(p.id, true, 9, '{"event":"alert"}', 0, T0);
      expect((await s.webhooks.deliveries(h1.id, undefined, 10)).map((d) => d.payload)).toEqual(['{"event":"diagnosis"}']);
      expect((await s.webhooks.deliveries(h2.id, undefined, 10)).map((d) => [d.alertId, d.payload])).toEqual([[9, '{"event":"alert"}'], [null, '{"event":"diagnosis"}']]);
      await s.webhooks.delete(h1.id);
      expect(await s.webhooks.byId(h1.id)).toBeUndefined();
      expect(await s.webhooks.deliveries(h1.id, undefined, 10)).toEqual([]);
      expect((await s.webhooks.claimDue(1, 10, LEASE)).map((d) => d.webhookId)).toEqual([h2.id, h2.id]);
    },
  },
  {
    name: 'webhooks.claimDue: due deliveries in due order, as they were, hidden for the lease',
    async run(s) {
      const p = await s.projects.ensure('vision');
      const h = await s.webhooks.insert(p.id, 'https://hooks.example/a', 'sec-a', true, T0);
      await s.webhooks.enqueueAll(p.id, true, 7, '{"event":"alert"}', 1000, T0);
      await s.webhooks.enqueueAll(p.id, false, null, '{"event":"diagnosis"}', 500, at(1));
      await s.webhooks.enqueueAll(p.id, false, null, '{"event":"late"}', 5000, at(2));
      const pending = { webhookId: h.id, status: 'pending', attempts: 0, lastStatus: null, lastError: null, deliveredAt: null, url: h.url, secret: 'sec-a' };
      expect(await s.webhooks.claimDue(1000, 10, LEASE)).toEqual([
        { ...pending, id: 2, alertId: null, payload: '{"event":"diagnosis"}', nextAttemptAt: 500, createdAt: at(1) },
        { ...pending, id: 1, alertId: 7, payload: '{"event":"alert"}', nextAttemptAt: 1000, createdAt: T0 },
      ]);
      expect(await s.webhooks.claimDue(1000, 10, LEASE)).toEqual([]);
      const again = await s.webhooks.claimDue(1000 + LEASE, 10, LEASE);
      expect(again.map((d) => [d.id, d.nextAttemptAt])).toEqual([[3, 5000], [1, 1000 + LEASE], [2, 1000 + LEASE]]);
      // All leased to the same time now: ties go by id.
      expect((await s.webhooks.claimDue(10 ** 12, 1, LEASE)).map((d) => d.id)).toEqual([1]);
    },
  },
  {
    name: 'webhooks: settle writes the keys given; deliveries newest first, by status',
    async run(s) {
      const p = await s.projects.ensure('vision');
      const h = await s.webhooks.insert(p.id, 'https://hooks.example/a', 'sec-a', true, T0);
      for (const i of [1, 2, 3]) await s.webhooks.enqueueAll(p.id, true, i, `{"n":${i}}`, i, T0);
      await s.webhooks.settle(1, { status: 'delivered', attempts: 1, lastStatus: 200, deliveredAt: at(1), lastError: undefined });
      await s.webhooks.settle(2, { attempts: 1, lastError: 'ECONNREFUSED', nextAttemptAt: 2 ** 41 });
      const all = await s.webhooks.deliveries(h.id, undefined, 10);
      expect(all.map((d) => d.id)).toEqual([3, 2, 1]);
      expect(all[2]).toEqual({ id: 1, webhookId: h.id, alertId: 1, payload: '{"n":1}', status: 'delivered', attempts: 1, lastStatus: 200, lastError: null, nextAttemptAt: 1, createdAt: T0, deliveredAt: at(1) });
      expect(all[1]).toMatchObject({ status: 'pending', attempts: 1, lastError: 'ECONNREFUSED', nextAttemptAt: 2 ** 41 });
      expect((await s.webhooks.deliveries(h.id, 'pending', 10)).map((d) => d.id)).toEqual([3, 2]);
      expect((await s.webhooks.deliveries(h.id, 'delivered', 10)).map((d) => d.id)).toEqual([1]);
      expect((await s.webhooks.deliveries(h.id, undefined, 1)).map((d) => d.id)).toEqual([3]);
    },
  },
  {
    name: 'webhooks.claimDue: claimers running at once never get the same delivery',
    async run(s) {
      const p = await s.projects.ensure('vision');
      await s.webhooks.insert(p.id, 'https://hooks.example/a', 'sec-a', true, T0);
      const n = 60;
      for (let i = 0; i < n; i++) await s.webhooks.enqueueAll(p.id, false, null, '{}', i, T0);
      const seen: number[] = [];
      for (let round = 0; round < 20 && seen.length < n; round++) {
        const claims = await Promise.all(Array.from({ length: 8 }, () => s.webhooks.claimDue(1000, 3, LEASE)));
        for (const c of claims) seen.push(...c.map((d) => d.id));
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    },
  },
];

export const TOKEN_CASES: RepoCase[] = [
  {
    name: 'tokens: create shows the secret once and stores its hash; list, expiries, byHash, revoke',
    async run(s) {
      const a = await s.tokens.create({ scope: 'read', name: 'ci', project: 'vision', expiresAt: at(100) });
      const b = await s.tokens.create({ scope: 'admin', name: 'ops' });
      expect(a.secret).toMatch(/^gw_[A-Za-z0-9_-]{43}$/);
      expect(a.info).toEqual({ id: 1, name: 'ci', scope: 'read', project: 'vision', hint: a.secret.slice(0, 7), createdAt: expect.stringMatching(ISO), expiresAt: at(100) });
      expect(b.info).toMatchObject({ id: 2, scope: 'admin', project: null, expiresAt: null });
      expect(await s.tokens.list()).toEqual([a.info, b.info]);
      expect(await s.tokens.byHash(hashToken(a.secret))).toEqual({ ...a.info, hash: hashToken(a.secret) });
      expect(await s.tokens.byHash(hashToken('gw_nope'))).toBeUndefined();
      expect(await s.tokens.expiries([])).toEqual(new Map());
      expect(await s.tokens.expiries([1, 2, 99])).toEqual(new Map([[1, at(100)], [2, null]]));
      expect(await s.tokens.revoke(1)).toBe(true);
      expect(await s.tokens.revoke(1)).toBe(false);
      expect(await s.tokens.byHash(hashToken(a.secret))).toBeUndefined();
      expect(await s.tokens.list()).toEqual([b.info]);
    },
  },
];
