/** IngestClient.hists(): many histograms to a message once the server offers it, single ones before. */
import { afterEach, describe, expect, it } from 'vitest';
import type { HistItem } from '@gradwatch/shared';
import { IngestClient } from '@gradwatch/client';
import { getJson, noRules, removeDir, startServer, type TestServer } from '../../../server/test/helpers.js';

let srv: TestServer | null = null;
const clients: IngestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  if (srv) {
    await srv.close();
    removeDir(srv.dataDir);
    srv = null;
  }
});

const hist = (i: number): HistItem => ({ step: Math.floor(i / 4), layer: `l${i % 4}`, of: 'grad', edges: [-i - 1, 0.5, i + 1], counts: [i, 2 * i] });

async function storedOf(s: TestServer, run: string): Promise<HistItem[]> {
  const out: HistItem[] = [];
  for (let l = 0; l < 4; l++) {
    const r = await getJson<{ histograms: HistItem[] }>(`${s.url}/api/v1/runs/${run}/histograms?layer=l${l}&limit=1000`);
    out.push(...r.body.histograms);
  }
  return out.sort((a, b) => a.step - b.step || a.layer.localeCompare(b.layer));
}

describe('IngestClient.hists', () => {
  it('sends hists messages of at most maxItemsPerMessage once welcomed, single hist messages before', async () => {
    const s = (srv = await startServer({ engineFactory: noRules, env: { GRADWATCH_MAX_ITEMS_PER_MESSAGE: '1000' } }));
    const early = new IngestClient({ url: s.wsUrl, run: { id: 'hists-early', project: 'cli', name: 'early' }, log: () => undefined });
    const late = new IngestClient({ url: s.wsUrl, run: { id: 'hists-late', project: 'cli', name: 'late' }, log: () => undefined });
    clients.push(early, late);
    const items = Array.from({ length: 2500 }, (_, i) => hist(i));
    // Queued before any welcome: the server's features are unknown, so one message each.
    expect(early.hists(items.slice(0, 30))).toBe(30);
    await early.connect();
    await late.connect();
    expect(late.hists(items)).toBe(3);
    for (const c of [early, late]) expect((await c.end()).rejected).toBe(0);
    expect(await storedOf(s, 'hists-late')).toEqual(items);
    expect(await storedOf(s, 'hists-early')).toEqual(items.slice(0, 30));
  });
});
