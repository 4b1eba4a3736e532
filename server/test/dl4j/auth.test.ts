/**
 * /remoteReceive with auth on: DL4J cannot set headers, so the token travels as ?token=. The
 * token needs scope ingest and, when it is limited to a project, that project.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIdOf } from '../../src/dl4j/map-static.js';
import { getJson, removeDir, startServer, type TestServer } from '../helpers.js';
import { metaData, post, reportSpec, update } from './client.js';

const ADMIN = 'dl4j-admin-token-0123456789abcdef';
let srv: TestServer;
const tok: Record<'ingestA' | 'readA' | 'ingestAll', string> = { ingestA: '', readA: '', ingestAll: '' };

async function token(scope: string, project?: string): Promise<string> {
  const r = await getJson<{ token: string }>(`${srv.url}/api/v1/tokens`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ scope, name: `${scope} ${project ?? '*'}`, ...(project ? { project } : {}) }),
  });
  expect(r.status).toBe(201);
  return r.body.token;
}

beforeAll(async () => {
  srv = await startServer({ env: { GRADWATCH_ADMIN_TOKEN: ADMIN } });
  tok.ingestA = await token('ingest', 'pa');
  tok.readA = await token('read', 'pa');
  tok.ingestAll = await token('ingest');
});
afterAll(async () => {
  await srv.close();
  removeDir(srv.dataDir);
});

const runExists = async (session: string) =>
  (await getJson(`${srv.url}/api/v1/runs/${runIdOf(session, 'w')}`, { headers: { authorization: `Bearer ${ADMIN}` } })).status === 200;

describe('/remoteReceive with auth on', () => {
  it('refuses without a token, with an unknown one, with the wrong scope or project, and stores nothing', async () => {
    const body = update(reportSpec('denied', 'w', 0, 1));
    const cases: Array<[string, number]> = [
      ['?project=pa', 401],
      ['?project=pa&token=gw_never-issued-0000000000000000', 401],
      [`?project=pa&token=${tok.readA}`, 403],
      [`?project=pb&token=${tok.ingestA}`, 403],
      // The default project is dl4j, which this token does not cover either.
      [`?token=${tok.ingestA}`, 403],
    ];
    for (const [q, status] of cases) {
      const r = await post(srv.url, body, q);
      expect(r.status, q).toBe(status);
      expect(r.body).toMatchObject({ statusCode: status, message: expect.any(String) });
    }
    expect(await runExists('denied')).toBe(false);
  });

  it('checks the token before reading the message', async () => {
    expect((await post(srv.url, '{"type":"Update","class":"x","data":"!"}', '?project=pa')).status).toBe(401);
  });

  it('stores with ?token= of the right project, or a token for every project', async () => {
    expect((await post(srv.url, metaData('allowed', 'w', 1), `?project=pa&token=${tok.ingestA}`)).status).toBe(200);
    expect((await post(srv.url, update(reportSpec('allowed', 'w', 0, 2)), `?project=pa&token=${encodeURIComponent(tok.ingestA)}`)).status).toBe(200);
    expect(await runExists('allowed')).toBe(true);
    expect((await post(srv.url, update(reportSpec('anywhere', 'w', 0, 2)), `?token=${tok.ingestAll}`)).status).toBe(200);
    expect(await runExists('anywhere')).toBe(true);
  });

  it('keeps a session in the project that first took it', async () => {
    const r = await post(srv.url, update(reportSpec('allowed', 'w', 1, 3)), `?project=other&token=${tok.ingestAll}`);
    expect(r.status).toBe(409);
    expect(r.body.message).toMatch(/another project/);
  });
});
