import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { screenshot, startEnv, type Env } from './helpers.js';

const TOKEN = 'e2e-admin-token-0123456789';

describe('auth', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv({ GRADWATCH_ADMIN_TOKEN: TOKEN });
  });
  afterAll(async () => env?.close());

  it('asks for a token on a 401, keeps it in localStorage and sends it as a bearer', async () => {
    const { page, server } = env;
    await page.goto(`${server.url}/`);
    await page.getByLabel('Access token').waitFor();
    await screenshot(page, 'token-prompt');
    const auths: string[] = [];
    page.on('request', (r) => {
      const h = r.headers().authorization;
      if (h) auths.push(h);
    });
    await page.getByLabel('Access token').fill(TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.getByText('No runs match').waitFor();
    expect(auths).toContain(`Bearer ${TOKEN}`);
    expect(await page.evaluate(() => localStorage.getItem('gradwatch.token'))).toBe(TOKEN);
    await page.reload();
    await page.getByText('No runs match').waitFor();
    expect(await page.getByLabel('Access token').count()).toBe(0);
  });
});
