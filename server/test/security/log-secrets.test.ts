/**
 * No secret reaches the log. The real server runs as a child process with the most verbose
 * log level, its output captured; tokens are sent every way the API takes them (query string
 * on REST and on the live socket, Authorization header, hello.token, the live auth message),
 * right and wrong, and the whole log is searched for any of them.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hello, RawSocket, removeDir, tempDir } from '../helpers.js';
import { freePort, ROOT } from '../reliability/proc.js';

// Characters that URLs and JSON escape, so every written form of it must be caught.
const ADMIN = 'adm1n+S3cret/with"quote=and&amp';
const WRONG_STORED = `gw_${'x'.repeat(43)}`;
const WRONG_OTHER = 'not-a-real-token-zz9-plural-z-alpha';

let dataDir: string;
let base: string;
let wsBase: string;
let output = '';
let exited: Promise<unknown>;
let kill: () => void;

beforeAll(async () => {
  dataDir = tempDir();
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/src/server.ts')], {
    cwd: ROOT,
    env: { ...process.env, GRADWATCH_PORT: String(port), GRADWATCH_DATA_DIR: dataDir, GRADWATCH_LOG_LEVEL: 'trace', GRADWATCH_ADMIN_TOKEN: ADMIN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
  exited = new Promise((r) => proc.once('exit', r));
  kill = () => proc.kill('SIGTERM');
  base = `http://127.0.0.1:${port}`;
  wsBase = `ws://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    if (i > 600) throw new Error(`server did not start: ${output.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(async () => {
  kill();
  await exited;
  removeDir(dataDir);
});

const q = encodeURIComponent;
const encodeAll = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function createToken(scope: string): Promise<string> {
  const r = await fetch(`${base}/api/v1/tokens`, { method: 'POST', headers: { ...bearer(ADMIN), 'content-type': 'application/json' }, body: JSON.stringify({ scope, name: scope }) });
  expect(r.status).toBe(201);
  return ((await r.json()) as { token: string }).token;
}

describe('the log', () => {
  it('holds no token sent in a query string, a header, a hello or a live auth message, right or wrong', async () => {
    const ingest = await createToken('ingest');
    const read = await createToken('read');
    const secrets = { ADMIN, ingest, read, WRONG_STORED, WRONG_OTHER };

    // REST: query string and header, each token right and wrong.
    for (const t of [ADMIN, read, WRONG_STORED, WRONG_OTHER]) {
      await (await fetch(`${base}/api/v1/runs?token=${q(t)}`)).text();
      await (await fetch(`${base}/api/v1/runs?limit=5&token=${q(t)}&search=x`)).text();
      await (await fetch(`${base}/api/v1/runs`, { headers: bearer(t) })).text();
      await (await fetch(`${base}/api/v1/no-such-route?token=${q(t)}`)).text();
    }
    // Every byte percent-encoded, the key too: the server reads it as ?token=, so must the log.
    const accepted = await fetch(`${base}/api/v1/runs?%74oken=${encodeAll(ADMIN)}`);
    expect(accepted.status).toBe(200);
    await accepted.text();
    // Ingest: hello.token (right, wrong, in an invalid hello) and the upgrade's header.
    for (const t of [ingest, WRONG_STORED, ADMIN]) {
      const s = await RawSocket.open(`${wsBase}/v1/ingest`);
      s.send(hello('logged', { token: t, run: { id: 'logged', project: 'logs', name: 'logged' } }));
      await s.next((m) => m.type === 'welcome' || m.type === 'error');
      s.close();
      const bad = await RawSocket.open(`${wsBase}/v1/ingest?token=${q(t)}`);
      bad.send({ type: 'hello', protocol: 99, token: t, run: { id: 'x' } });
      await bad.next((m) => m.type === 'error');
      bad.close();
    }
    // Live: ?token= (the documented way) and the auth message.
    for (const t of [read, ADMIN, WRONG_OTHER]) {
      const live = await RawSocket.open(`${wsBase}/v1/live?token=${q(t)}`);
      live.send({ type: 'subscribe', runs: ['logged'] });
      await live.next(() => true);
      live.close();
      const authed = await RawSocket.open(`${wsBase}/v1/live`);
      authed.send({ type: 'auth', token: t });
      await authed.next(() => true);
      authed.close();
    }
    await new Promise((r) => setTimeout(r, 300));
    kill();
    await exited;

    const lines = output.split('\n').filter(Boolean);
    // The log did record these requests (the test would prove nothing on an empty log).
    expect(lines.filter((l) => l.includes('/api/v1/runs')).length).toBeGreaterThan(10);
    const forms = (s: string) => [s, q(s), encodeAll(s), JSON.stringify(s).slice(1, -1), s.slice(3, 20)];
    const leaks = Object.entries(secrets).flatMap(([name, s]) => forms(s).filter((f) => output.includes(f)).map((f) => `${name} as ${f}`));
    expect(leaks, lines.filter((l) => Object.values(secrets).some((s) => forms(s).some((f) => l.includes(f)))).slice(0, 3).join('\n')).toEqual([]);
    expect(lines.some((l) => l.includes('/v1/live?token=[redacted]'))).toBe(true);
  });
});
