/**
 * What the server says about itself in its log (JSON lines when not on a terminal): a start
 * line with the dashboard address, no line per request at info, a clean-shutdown line.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../../tools/net.js';
import { removeDir, tempDir } from '../helpers.js';
import { ROOT } from '../reliability/proc.js';

describe('server log', () => {
  it('announces the dashboard, keeps requests out of info, and says it stopped cleanly', async () => {
    const port = await freePort();
    const dir = tempDir();
    const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/src/server.ts')], {
      cwd: ROOT,
      env: { ...process.env, GRADWATCH_PORT: String(port), GRADWATCH_DATA_DIR: dir, GRADWATCH_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => proc.once('exit', r));
    for (let i = 0; !out.includes('gradwatch is up'); i++) {
      if (i > 600) throw new Error(`no start line in 30 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (let i = 0; i < 20; i++) expect((await fetch(`http://127.0.0.1:${port}/api/v1/runs`)).status).toBe(200);
    proc.kill('SIGTERM');
    await exited;
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(lines.find((l) => l.msg.startsWith('gradwatch is up'))?.msg).toContain(`http://127.0.0.1:${port}/`);
    expect(lines.filter((l) => l.level >= 30 && /request/i.test(l.msg))).toEqual([]);
    expect(lines.at(-1)?.msg).toMatch(/stopped cleanly/);
    removeDir(dir);
  });
});
