/**
 * Every route with an :id, asked with spellings of another project's id that a lax parser reads
 * as the same row ("1.0", "+1", " 1", "1e0", "0x1", "1."): the project check must see exactly
 * the row the route acts on, so a project-limited token never reads or changes another
 * project's row, whatever the spelling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir } from '../helpers.js';
import { insertAlert, startTenants, type Tenants } from './tenants.js';
import { sqliteOf } from '../sqlite-access.js';

/** Spellings of the number 1 (URL-encoded where a raw character would not survive). */
const ONE = ['1', '1.0', '+1', '%2B1', '%201', '1%20', '1e0', '1E0', '0x1', '1.', '01', '1.00', '0b1', '0o1', '1%00', '%EF%BC%91', '1n', '0001e0'];
/** Spellings of the run id "ra". */
const RA = ['ra', 'ra%20', '%20ra', 'RA', 'r%61', 'ra%00', 'ra/', 'ra.', 'ra%09'];

let t: Tenants;
let alertA = 0;
let hookA = 0;

beforeAll(async () => {
  t = await startTenants({ GRADWATCH_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' });
  await t.ingestRun('ra', 'pa', t.tok.ingestA);
  await t.ingestRun('rb', 'pb', t.tok.ingestB);
  // A run whose id is a number, for the number spellings on the run routes.
  await t.ingestRun('1', 'pa', t.tok.ingestA);
  alertA = insertAlert(t.srv, 'ra');
  const hook = await t.call('POST', '/api/v1/projects/pa/webhooks', t.tok.adminA, { url: 'http://127.0.0.1:9/hook' });
  expect(hook.status).toBe(201);
  hookA = (hook.body as { id: number }).id;
  // The spellings are of 1: the rows they aim at must be the first of their tables.
  expect([alertA, hookA]).toEqual([1, 1]);
});

afterAll(async () => {
  await t.srv.close();
  removeDir(t.srv.dataDir);
});

const alertRow = () => sqliteOf(t.srv.app).prepare('SELECT acknowledged, muted FROM alerts WHERE id = ?').get(alertA) as { acknowledged: number; muted: number };
const leaks = (text: string) => text.includes('"pa"') || text.includes('"ra"') || text.includes('"runId":"1"') || text.includes('"id":"1"');

describe('ids spelled another way never cross a project', () => {
  it('GET and PATCH /alerts/:id: project B gets nothing of project A, A gets its own alert or a 400', async () => {
    const failures: string[] = [];
    for (const id of ONE) {
      for (const [method, body] of [['GET', undefined], ['PATCH', { muted: true }], ['PATCH', { acknowledged: true }]] as const) {
        const other = await t.call(method, `/api/v1/alerts/${id}`, method === 'GET' ? t.tok.readB : t.tok.adminB, body);
        if (![400, 404].includes(other.status) || leaks(other.text)) failures.push(`${method} /alerts/${id} as B: ${other.status} ${other.text.slice(0, 120)}`);
      }
      const own = await t.call('GET', `/api/v1/alerts/${id}`, t.tok.readA);
      if (own.status === 200) {
        if ((own.body as { id: number }).id !== alertA) failures.push(`GET /alerts/${id} as A named another row: ${own.text.slice(0, 120)}`);
      } else if (![400, 404].includes(own.status)) failures.push(`GET /alerts/${id} as A: ${own.status}`);
    }
    expect(failures).toEqual([]);
    expect(alertRow()).toEqual({ acknowledged: 0, muted: 0 });
  });

  it('every /runs/:id route: project B gets 404 for spellings of A\'s run and deletes nothing', async () => {
    const failures: string[] = [];
    for (const id of [...RA, ...ONE]) {
      for (const sub of ['', '/series', '/query?series=loss', '/query/columns?series=loss', '/series/export?name=loss', '/steps', '/histograms', '/alerts', '/diagnosis']) {
        const r = await t.call('GET', `/api/v1/runs/${id}${sub}`, t.tok.readB);
        if (r.status !== 404 && r.status !== 400) failures.push(`GET /runs/${id}${sub} as B: ${r.status} ${r.text.slice(0, 120)}`);
        if (leaks(r.text)) failures.push(`GET /runs/${id}${sub} as B leaked: ${r.text.slice(0, 120)}`);
      }
      const del = await t.call('DELETE', `/api/v1/runs/${id}`, t.tok.adminB);
      if (del.status !== 404 && del.status !== 400) failures.push(`DELETE /runs/${id} as B: ${del.status}`);
    }
    expect(failures).toEqual([]);
    expect((await t.call('GET', '/api/v1/runs/ra', t.tok.readA)).status).toBe(200);
    expect((await t.call('GET', '/api/v1/runs/1', t.tok.readA)).status).toBe(200);
  });

  it('/projects/:project/webhooks/:id: A\'s webhook is out of B\'s reach under its own project name and any id spelling', async () => {
    const failures: string[] = [];
    for (const id of ONE) {
      for (const project of ['pb', 'pa', 'PA', 'pa%20']) {
        const list = await t.call('GET', `/api/v1/projects/${project}/webhooks/${id}/deliveries`, t.tok.readB);
        if (![400, 403, 404].includes(list.status)) failures.push(`GET deliveries ${project}/${id} as B: ${list.status} ${list.text.slice(0, 120)}`);
        const del = await t.call('DELETE', `/api/v1/projects/${project}/webhooks/${id}`, t.tok.adminB);
        if (![400, 403, 404].includes(del.status)) failures.push(`DELETE webhook ${project}/${id} as B: ${del.status}`);
      }
    }
    expect(failures).toEqual([]);
    const hooks = await t.call('GET', '/api/v1/projects/pa/webhooks', t.tok.readA);
    expect((hooks.body as { webhooks: Array<{ id: number }> }).webhooks.map((h) => h.id)).toEqual([hookA]);
  });

  it('/tokens/:id: a project-limited admin token cannot revoke a token under any spelling', async () => {
    const failures: string[] = [];
    for (const id of ONE) {
      const r = await t.call('DELETE', `/api/v1/tokens/${id}`, t.tok.adminB);
      if (r.status !== 403) failures.push(`DELETE /tokens/${id} as B: ${r.status}`);
    }
    expect(failures).toEqual([]);
    // Token 1 (adminA) still works.
    expect((await t.call('GET', '/api/v1/runs/ra', t.tok.adminA)).status).toBe(200);
  });

  it('has covered every route with an :id parameter', () => {
    const covered = new Set([
      '/api/v1/alerts/:id', '/api/v1/runs/:id', '/api/v1/runs/:id/series', '/api/v1/runs/:id/query', '/api/v1/runs/:id/query/columns', '/api/v1/runs/:id/series/export',
      '/api/v1/runs/:id/steps', '/api/v1/runs/:id/histograms', '/api/v1/runs/:id/alerts', '/api/v1/runs/:id/diagnosis', '/api/v1/projects/:project/webhooks/:id',
      '/api/v1/projects/:project/webhooks/:id/deliveries', '/api/v1/tokens/:id',
    ]);
    const withId = [...new Set(t.srv.app.auth.routes.filter((r) => r.url.includes(':id')).map((r) => r.url))];
    expect(withId.filter((u) => !covered.has(u))).toEqual([]);
  });
});
