import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { IngestClient } from '@gradwatch/client';
import type { EndStatus, EvalMsg, ModelMsg, RunInfo, StepItem } from '@gradwatch/shared';
import type { TestServer } from '../../server/test/helpers.js';

const CORPUS = resolve(import.meta.dirname, '../../server/test/diagnosis/corpus');

type Msg =
  | { type: 'hello'; run: RunInfo }
  | ({ type: 'model' } & Omit<ModelMsg, 'type'>)
  | { type: 'steps'; items: StepItem[] }
  | ({ type: 'eval' } & Omit<EvalMsg, 'type'>)
  | { type: 'end'; status: EndStatus };

/** A real PyTorch training recorded as the wire messages its client sent (tools/corpus/record.py). */
export interface Recorded {
  hello: RunInfo;
  /** Everything after the hello, in order. */
  rest: Msg[];
}

export function loadRecorded(name: string): Recorded {
  const msgs = (JSON.parse(readFileSync(resolve(CORPUS, `${name}.json`), 'utf8')) as { messages: Msg[] }).messages;
  const [hello, ...rest] = msgs;
  if (hello?.type !== 'hello') throw new Error(`${name}: the recording does not start with a hello`);
  return { hello: hello.run, rest };
}

/** Opens the recorded run under its own id and name (hello only: nothing is logged yet). */
export async function openRecorded(server: TestServer, r: Recorded, id: string, name: string): Promise<IngestClient> {
  const c = new IngestClient({ url: server.wsUrl, run: { ...r.hello, id, name, project: 'e2e' }, flushMs: 10 });
  await c.connect();
  return c;
}

/** Sends the recorded messages as the client did, each acked before the next; `end` is left to the caller. */
export async function replayRecorded(c: IngestClient, msgs: readonly Msg[]): Promise<void> {
  for (const m of msgs) {
    if (m.type === 'model') {
      const { type: _t, seq: _s, ...body } = m;
      c.model(body);
    } else if (m.type === 'eval') {
      const { type: _t, seq: _s, ...body } = m;
      c.eval(body);
    } else if (m.type === 'steps') for (const it of m.items) c.step(it);
    await c.flush();
  }
}

export const withoutEnd = (msgs: readonly Msg[]): Msg[] => msgs.filter((m) => m.type !== 'end');
