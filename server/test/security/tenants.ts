/**
 * Two projects (pa, pb) on one auth-on server, with tokens of each scope per project: the
 * fixture the access-control tests share.
 */
import { expect } from 'vitest';
import { hello, RawSocket, startServer, type TestServer } from '../helpers.js';
import { sqliteOf } from '../sqlite-access.js';

export const ADMIN = 'bootstrap-admin-token-0123456789';

export type TokenName = 'adminA' | 'adminB' | 'readA' | 'readB' | 'ingestA' | 'ingestB';

export interface Tenants {
  srv: TestServer;
  tok: Record<TokenName | 'admin', string>;
  call(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: unknown; text: string }>;
  createToken(scope: string, project?: string, extra?: Record<string, unknown>): Promise<{ id: number; token: string }>;
  ingestRun(id: string, project: string, token?: string): Promise<void>;
}

export async function startTenants(env: Record<string, string> = {}): Promise<Tenants> {
  const srv = await startServer({ env: { GRADWATCH_ADMIN_TOKEN: ADMIN, ...env } });
  const call: Tenants['call'] = async (method, path, token, body) => {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${srv.url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, text };
  };
  const createToken: Tenants['createToken'] = async (scope, project, extra = {}) => {
    const r = await call('POST', '/api/v1/tokens', ADMIN, { scope, name: `${scope} ${project ?? '*'}`, ...(project ? { project } : {}), ...extra });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { id: number; token: string };
  };
  const ingestRun: Tenants['ingestRun'] = async (id, project, token = ADMIN) => {
    const s = await RawSocket.open(`${srv.wsUrl}/v1/ingest`);
    s.send(hello(id, { token, run: { id, project, name: id } }));
    const w = await s.next((m) => m.type === 'welcome');
    const seq = (w as { lastSeq: number }).lastSeq + 1;
    s.send({ type: 'steps', seq, items: [{ step: seq, time: 1_800_000_000, epoch: 0, scalars: { loss: 1 } }] });
    await s.ack(seq);
    s.close();
  };
  const tok = { admin: ADMIN } as Tenants['tok'];
  for (const [name, scope, project] of [
    ['adminA', 'admin', 'pa'], ['adminB', 'admin', 'pb'], ['readA', 'read', 'pa'], ['readB', 'read', 'pb'], ['ingestA', 'ingest', 'pa'], ['ingestB', 'ingest', 'pb'],
  ] as const) {
    tok[name] = (await createToken(scope, project)).token;
  }
  return { srv, tok, call, createToken, ingestRun };
}

/** An alert row of a run, written directly (rules are not what these tests are about). */
export function insertAlert(srv: TestServer, runUid: string): number {
  const db = sqliteOf(srv.app);
  const run = db.prepare('SELECT id, project_id AS projectId FROM runs WHERE uid = ?').get(runUid) as { id: number; projectId: number };
  const now = new Date().toISOString();
  return Number(
    db.prepare(`INSERT INTO alerts (run_id, project_id, rule, section, severity, status, first_step, last_step, evidence, advice, created_at, updated_at)
      VALUES (?, ?, 'sec', 'test', 'warning', 'open', 1, 1, '{}', 'none', ?, ?)`).run(run.id, run.projectId, now, now).lastInsertRowid,
  );
}
