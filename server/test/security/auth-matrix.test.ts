/**
 * The auth matrix: every route Fastify registered (collected by the auth plugin's onRoute hook)
 * × no token / wrong token / wrong scope / other project / right token → exactly the expected
 * status. A route without an expectation here fails the test, so a new route cannot slip
 * through unguarded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hello, RawSocket, removeDir, type TestServer } from '../helpers.js';

import { ADMIN, insertAlert, startTenants, type Tenants } from './tenants.js';
import { sqliteOf } from '../sqlite-access.js';
const WRONG = 'gw_this-token-was-never-issued-0000000000000';

type Cond = 'none' | 'wrong' | 'scope' | 'other' | 'right';
const CONDS: Cond[] = ['none', 'wrong', 'scope', 'other', 'right'];
type TokenName = 'admin' | 'adminA' | 'adminB' | 'readA' | 'readB' | 'readAll' | 'ingestA' | 'ingestB';

interface Spec {
  /** The request for a resource of project pa (the "right" project). */
  path: string;
  body?: unknown;
  /** Tokens used for the wrong-scope, other-project and right columns. */
  tokens: { scope: TokenName; other: TokenName; right: TokenName };
  expect: Record<Cond, number>;
  /** Re-creates what a successful request destroys, before each column. */
  setup?: () => Promise<void>;
  /** Extra check of an "other project" answer that succeeded (listings filtered to pb). */
  otherBody?: (body: unknown) => void;
}

let srv: TestServer;
const tok = {} as Record<TokenName, string>;
let alertA = 0;
let hookA = 0;

let tenants: Tenants;
const call = (method: string, path: string, token: string | undefined, body?: unknown) => tenants.call(method, path, token, body);

async function freshHook(): Promise<void> {
  const r = await call('POST', '/api/v1/projects/pa/webhooks', ADMIN, { url: 'http://127.0.0.1:9/hook' });
  hookA = (r.body as { id: number }).id;
}

const listedRuns = (body: unknown) => (body as { runs: Array<{ id: string; project: string }> }).runs;

// Expectations by kind; each route names its own where they differ.
const read = (path: string, other = 404, extra: Partial<Spec> = {}): Spec => ({
  path, tokens: { scope: 'ingestA', other: 'readB', right: 'readA' }, expect: { none: 401, wrong: 401, scope: 403, other, right: 200 }, ...extra,
});
const admin = (path: string, right: number, other: number, extra: Partial<Spec> = {}): Spec => ({
  path, tokens: { scope: 'readA', other: 'adminB', right: 'adminA' }, expect: { none: 401, wrong: 401, scope: 403, other, right }, ...extra,
});
const global = (path: string, right: number, extra: Partial<Spec> = {}): Spec => ({
  path, tokens: { scope: 'readAll', other: 'adminA', right: 'admin' }, expect: { none: 401, wrong: 401, scope: 403, other: 403, right }, ...extra,
});
const pub = (path: string, status = 200): Spec => ({
  path, tokens: { scope: 'ingestA', other: 'readB', right: 'readA' }, expect: { none: status, wrong: status, scope: status, other: status, right: status },
});

const SPECS: Record<string, Spec> = {
  'POST /remoteReceive': {
    path: '/remoteReceive?project=pa',
    body: { type: 'MetaData', class: 'org.deeplearning4j.ui.model.storage.impl.SbeStorageMetaData', data: 'CAADAAEAAAAAaOXPiwEAAAEAAAAGAAAAbWF0cml4DQAAAFN0YXRzTGlzdGVuZXIBAAAAd0MAAABvcmcuZGVlcGxlYXJuaW5nNGoudWkubW9kZWwuc3RhdHMuaW1wbC5TYmVTdGF0c0luaXRpYWxpemF0aW9uUmVwb3J0NQAAAG9yZy5kZWVwbGVhcm5pbmc0ai51aS5tb2RlbC5zdGF0cy5pbXBsLlNiZVN0YXRzUmVwb3J0' },
    tokens: { scope: 'readA', other: 'ingestB', right: 'ingestA' },
    expect: { none: 401, wrong: 401, scope: 403, other: 403, right: 200 },
  },
  'GET /healthz': pub('/healthz'),
  'GET /docs': pub('/docs'),
  'HEAD /docs/': pub('/docs/'),
  'GET /docs/json': pub('/docs/json'),
  'GET /docs/yaml': pub('/docs/yaml'),
  'GET /docs/static/index.html': pub('/docs/static/index.html'),
  'GET /docs/static/swagger-initializer.js': pub('/docs/static/swagger-initializer.js'),
  'GET /docs/static/*': pub('/docs/static/swagger-ui.css'),
  'GET /api/v1/projects': read('/api/v1/projects', 200, {
    otherBody: (b) => expect((b as { projects: Array<{ name: string }> }).projects.map((p) => p.name)).toEqual(['pb']),
  }),
  'DELETE /api/v1/projects/:project': {
    ...admin('/api/v1/projects/pdel', 204, 403, { setup: () => tenants.ingestRun('rdel-p', 'pdel') }),
    tokens: { scope: 'readAll', other: 'adminB', right: 'admin' },
  },
  'GET /api/v1/runs': read('/api/v1/runs', 200, {
    otherBody: (b) => expect(listedRuns(b).map((r) => r.project)).toEqual(['pb']),
  }),
  'GET /api/v1/runs/:id': read('/api/v1/runs/ra'),
  'DELETE /api/v1/runs/:id': admin('/api/v1/runs/rdel', 204, 404, { setup: () => tenants.ingestRun('rdel', 'pa') }),
  'GET /api/v1/runs/:id/series': read('/api/v1/runs/ra/series'),
  'GET /api/v1/runs/:id/query': read('/api/v1/runs/ra/query?series=loss'),
  'GET /api/v1/runs/:id/query/columns': read('/api/v1/runs/ra/query/columns?series=loss'),
  'GET /api/v1/runs/:id/series/export': read('/api/v1/runs/ra/series/export?name=loss'),
  'GET /api/v1/runs/:id/steps': read('/api/v1/runs/ra/steps'),
  'GET /api/v1/runs/:id/histograms': read('/api/v1/runs/ra/histograms'),
  'GET /api/v1/runs/:id/alerts': read('/api/v1/runs/ra/alerts'),
  'GET /api/v1/runs/:id/diagnosis': read('/api/v1/runs/ra/diagnosis'),
  'GET /api/v1/alerts': read('/api/v1/alerts', 200, {
    otherBody: (b) => expect((b as { alerts: Array<{ project: string }> }).alerts.every((a) => a.project === 'pb')).toBe(true),
  }),
  'GET /api/v1/alerts/:id': read('/api/v1/alerts/ALERT'),
  'PATCH /api/v1/alerts/:id': admin('/api/v1/alerts/ALERT', 200, 404, { body: { acknowledged: true } }),
  'GET /api/v1/rules': read('/api/v1/rules', 200),
  'GET /api/v1/projects/:project/rules': read('/api/v1/projects/pa/rules', 403),
  'PUT /api/v1/projects/:project/rules': admin('/api/v1/projects/pa/rules', 200, 403, { body: {} }),
  'GET /api/v1/projects/:project/webhooks': read('/api/v1/projects/pa/webhooks', 403),
  'POST /api/v1/projects/:project/webhooks': admin('/api/v1/projects/pa/webhooks', 201, 403, { body: { url: 'http://127.0.0.1:9/hook' } }),
  'DELETE /api/v1/projects/:project/webhooks/:id': admin('/api/v1/projects/pa/webhooks/HOOK', 204, 403, { setup: freshHook }),
  'GET /api/v1/projects/:project/webhooks/:id/deliveries': read('/api/v1/projects/pa/webhooks/HOOK/deliveries', 403, { setup: freshHook }),
  'POST /api/v1/tokens': global('/api/v1/tokens', 201, { body: { scope: 'read', name: 'matrix' } }),
  'GET /api/v1/tokens': global('/api/v1/tokens', 200),
  'DELETE /api/v1/tokens/:id': global('/api/v1/tokens/TOKEN', 204),
  // Sockets: the status is what the socket answers (see socketOutcome).
  'GET /v1/ingest': { path: '/v1/ingest', tokens: { scope: 'readA', other: 'ingestB', right: 'ingestA' }, expect: { none: 401, wrong: 401, scope: 403, other: 403, right: 200 } },
  'GET /v1/live': { path: '/v1/live', tokens: { scope: 'ingestA', other: 'readB', right: 'readA' }, expect: { none: 401, wrong: 401, scope: 403, other: 403, right: 200 } },
};

/** Dashboard files are public; their names change with each build. */
const isDashboardFile = (url: string): boolean => url === '/' || url === '/*' || url === '/index.html' || url.startsWith('/assets/');

function specOf(method: string, url: string): Spec | undefined {
  if (isDashboardFile(url)) return pub(url === '/*' ? '/some/client/route' : url);
  const own = SPECS[`${method} ${url}`];
  if (own) return own;
  // HEAD routes Fastify adds for GET routes answer like them.
  if (method === 'HEAD') return SPECS[`GET ${url}`] ?? SPECS[`HEAD ${url}`];
  return undefined;
}

let tokenToDelete = 0;
const resolvePath = (p: string) => p.replace('ALERT', String(alertA)).replace('HOOK', String(hookA)).replace('TOKEN', String(tokenToDelete));

/** A socket's answer as an HTTP-like status: 200 accepted, 401 unauthorized, 403 forbidden. */
async function socketOutcome(path: string, token: string | undefined): Promise<number> {
  const s = await RawSocket.open(`${srv.wsUrl}${path}`);
  const code = (m: { type: string; code?: string }) => (m.type === 'error' ? (m.code === 'unauthorized' ? 401 : m.code === 'forbidden' ? 403 : 500) : 200);
  try {
    if (path === '/v1/ingest') {
      s.send(hello('ra', { run: { id: 'ra', project: 'pa', name: 'ra' }, ...(token !== undefined ? { token } : {}) }));
      const m = await s.next((x) => x.type === 'welcome' || x.type === 'error');
      if (m.type === 'error') {
        await new Promise((r) => setTimeout(r, 50));
        expect(s.closeCode).toBe(1008);
      }
      return code(m);
    }
    if (token !== undefined) {
      s.send({ type: 'auth', token });
      const m = (await s.next(() => true)) as { type: string; code?: string };
      if (m.type === 'error') return code(m);
    }
    s.send({ type: 'subscribe', runs: ['ra'] });
    return code((await s.next(() => true)) as { type: string; code?: string });
  } finally {
    s.close();
  }
}

beforeAll(async () => {
  // The matrix's webhooks point at loopback, which must be allowed by name.
  tenants = await startTenants({ GRADWATCH_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' });
  srv = tenants.srv;
  Object.assign(tok, tenants.tok);
  tok.readAll = (await tenants.createToken('read')).token;
  await tenants.ingestRun('ra', 'pa', tok.ingestA);
  await tenants.ingestRun('rb', 'pb', tok.ingestB);
  alertA = insertAlert(srv, 'ra');
  await freshHook();
});

afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

describe('auth matrix', () => {
  it('has an expectation for every route Fastify registered', () => {
    const routes = srv.app.auth.routes;
    expect(routes.length).toBeGreaterThan(40);
    const missing = routes.filter((r) => !specOf(r.method, r.url)).map((r) => `${r.method} ${r.url}`);
    expect(missing, 'routes without an expectation in the auth matrix: add them to SPECS').toEqual([]);
  });

  it('answers every route × token condition with exactly the expected status', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const { method, url } of srv.app.auth.routes) {
      const spec = specOf(method, url);
      if (!spec) {
        failures.push(`${method} ${url}: no expectation`);
        continue;
      }
      for (const cond of CONDS) {
        const token = cond === 'none' ? undefined : cond === 'wrong' ? WRONG : tok[spec.tokens[cond]];
        await spec.setup?.();
        if (method === 'DELETE' && url === '/api/v1/tokens/:id') tokenToDelete = Number((await call('POST', '/api/v1/tokens', ADMIN, { scope: 'read', name: 'victim' }).then((r) => r.body as { id: number })).id);
        let status: number;
        let body: unknown = null;
        if (url.startsWith('/v1/')) {
          if (method !== 'GET') continue; // HEAD on a socket route is not a socket
          status = await socketOutcome(spec.path, token);
        } else {
          const r = await call(method, resolvePath(spec.path), token, method === 'GET' || method === 'HEAD' ? undefined : spec.body);
          status = r.status;
          body = r.body;
          if (status >= 400 && method !== 'HEAD') {
            // Every refusal says why, in the one error shape.
            expect(body).toMatchObject({ statusCode: status, error: expect.any(String), message: expect.any(String) });
          }
        }
        checked++;
        if (status !== spec.expect[cond]) failures.push(`${method} ${url} [${cond}]: expected ${spec.expect[cond]}, got ${status} ${JSON.stringify(body).slice(0, 160)}`);
        else if (cond === 'other' && status === 200 && method === 'GET') spec.otherBody?.(body);
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(200);
  });

  it('sees nothing of another project through a project-limited token', async () => {
    const runs = await call('GET', '/api/v1/runs?project=pb', tok.readA);
    expect(runs.status).toBe(403);
    const list = await call('GET', '/api/v1/runs', tok.readA);
    expect(listedRuns(list.body).map((r) => r.id).sort()).not.toContain('rb');
    const alerts = await call('GET', '/api/v1/alerts?run=rb', tok.readA);
    expect(alerts.status).toBe(200);
    expect((alerts.body as { alerts: unknown[] }).alerts).toEqual([]);
    // The live socket refuses "*" (every run's events) to a project-limited token.
    const s = await RawSocket.open(`${srv.wsUrl}/v1/live?token=${tok.readA}`);
    s.send({ type: 'subscribe', runs: ['*'] });
    expect(await s.next(() => true)).toMatchObject({ type: 'error', code: 'forbidden' });
    s.close();
  });

  it('stops accepting a revoked token at once, and never returns a secret again', async () => {
    const created = await call('POST', '/api/v1/tokens', ADMIN, { scope: 'read', name: 'short-lived' });
    const { id, token } = created.body as { id: number; token: string };
    expect(token).toMatch(/^gw_[A-Za-z0-9_-]{43}$/);
    expect((await call('GET', '/api/v1/runs', token)).status).toBe(200);
    const listed = await call('GET', '/api/v1/tokens', ADMIN);
    expect(JSON.stringify(listed.body)).not.toContain(token);
    // Only the hash is stored.
    const stored = sqliteOf(srv.app).prepare('SELECT * FROM tokens WHERE id = ?').get(id);
    expect(JSON.stringify(stored)).not.toContain(token.slice(8));
    expect((await call('DELETE', `/api/v1/tokens/${id}`, ADMIN)).status).toBe(204);
    expect((await call('GET', '/api/v1/runs', token)).status).toBe(401);
    expect((await call('DELETE', `/api/v1/tokens/${id}`, ADMIN)).status).toBe(404);
  });

  it('rejects a malformed token creation with a clear 400', async () => {
    for (const body of [{ scope: 'root', name: 'x' }, { scope: 'read' }, { scope: 'read', name: 'x', project: '../etc' }, { scope: 'read', name: '' }]) {
      const r = await call('POST', '/api/v1/tokens', ADMIN, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect((r.body as { message: string }).message).toMatch(/invalid body/);
    }
  });
});
