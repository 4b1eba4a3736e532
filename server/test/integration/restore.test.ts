/**
 * A run resumed after a server restart is judged by the same rules as before it: its session is
 * restored with the stored model, so model-aware rules keep working without a new model message.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert, AlertPage } from '@gradwatch/shared';
import { getJson, hello, RawSocket, removeDir, startServer, tempDir, type TestServer } from '../helpers.js';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close().catch(() => undefined);
});

const stats = (extra: Record<string, number> = {}) => ({ mean: 0, std: 1, meanAbs: 0.8, min: -1, max: 1, ...extra });
const saturatedStep = (step: number) => ({
  step,
  scalars: { loss: 1 },
  layers: { fc1: { act: stats({ fracSaturated: 0.9 }) }, fc2: { act: stats({ fracSaturated: 0.1 }) } },
});

describe('a run restored after a restart', () => {
  it('gets its stored model back: a model-aware rule fires on steps sent after the restart', async () => {
    const dir = tempDir();
    const a = await startServer({ dataDir: dir });
    const s1 = await RawSocket.open(`${a.wsUrl}/v1/ingest`);
    s1.send(hello('restore-1'));
    await s1.next((m) => m.type === 'welcome');
    s1.send({
      type: 'model',
      seq: 1,
      layers: [
        { name: 'fc1', kind: 'Linear', activation: 'sigmoid', params: 100, fanIn: 10, fanOut: 10 },
        { name: 'fc2', kind: 'Linear', params: 20, fanIn: 10, fanOut: 2 },
      ],
      optimizer: { type: 'SGD', lr: 0.01, weightDecay: 'NaN' },
    });
    await s1.ack(1);
    s1.close();
    await a.close();

    const b = await startServer({ dataDir: dir });
    servers.push(b);
    const s2 = await RawSocket.open(`${b.wsUrl}/v1/ingest`);
    s2.send(hello('restore-1'));
    expect(await s2.next((m) => m.type === 'welcome')).toMatchObject({ lastSeq: 1 });
    for (let i = 0; i < 30; i++) s2.send({ type: 'steps', seq: 2 + i, items: [saturatedStep(i)] });
    await s2.ack(31);
    const alerts = (await getJson<AlertPage>(`${b.url}/api/v1/runs/restore-1/alerts?rule=act.saturated`)).body.alerts;
    expect(alerts.map((x: Alert) => x.layer)).toEqual(['fc1']);
    s2.close();
    removeDir(dir);
  });
});
