/**
 * Frames the WebSocket library refuses on its own (over maxPayload, too many fragments, broken
 * framing) and text that is not UTF-8: the peer must be told why, by an error before the close
 * frame (docs/protocol.md), and a socket must never be cut without a close code (1006). Before,
 * frames over 16 MiB closed with 1009, 20 x 1 MiB fragments with 1006 and invalid UTF-8 with
 * 1007, all without an error.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hello, noRules, RawSocket, removeDir, startServer, type TestServer } from '../helpers.js';

const FRAME = 16384;
let small: TestServer;
let dflt: TestServer;
beforeAll(async () => {
  small = await startServer({ engineFactory: noRules, env: { GRADWATCH_MAX_FRAME_BYTES: String(FRAME) } });
  dflt = await startServer({ engineFactory: noRules });
});
afterAll(async () => {
  for (const s of [small, dflt]) {
    await s.close();
    removeDir(s.dataDir);
  }
});

/** A socket that records every message and how it closed. */
async function openRaw(url: string): Promise<{ ws: WebSocket; got: Array<{ type: string; code?: string; message?: string }>; closed: Promise<number> }> {
  const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
  const got: Array<{ type: string; code?: string }> = [];
  ws.on('message', (d: Buffer) => got.push(JSON.parse(d.toString()) as { type: string }));
  ws.on('error', () => undefined);
  const closed = new Promise<number>((r) => ws.once('close', (c) => r(c)));
  await new Promise((r) => ws.once('open', r));
  return { ws, got, closed };
}
const raw = (ws: WebSocket) => (ws as unknown as { _socket: { write(b: Buffer): void } })._socket;
/** A masked client frame written by hand (mask of zeros: the payload goes as is). */
const frame = (first: number, payload: Buffer, masked = true) =>
  Buffer.concat([Buffer.from([first, (masked ? 0x80 : 0) | payload.length]), masked ? Buffer.alloc(4) : Buffer.alloc(0), payload]);

describe('frames over the limit are answered before the close', () => {
  it.each([
    ['just over maxFrameBytes', FRAME + 1],
    ['over four times maxFrameBytes (once refused by ws with no error)', 4 * FRAME + 1],
  ])('%s: frame_too_large, then 1009', async (_what, size) => {
    const s = await openRaw(`${small.wsUrl}/v1/ingest`);
    s.ws.send(JSON.stringify(hello('frames-1')));
    s.ws.send('x'.repeat(size));
    expect(await s.closed).toBe(1009);
    expect(s.got.find((m) => m.type === 'error')).toMatchObject({ code: 'frame_too_large', message: expect.stringMatching(new RegExp(`maxFrameBytes=${FRAME}`)) });
  });

  it('20 x 1 MiB fragments over the default 4 MiB: frame_too_large, then 1009 (once 1006)', async () => {
    const s = await openRaw(`${dflt.wsUrl}/v1/ingest`);
    const chunk = Buffer.alloc(1 << 20, 0x20);
    for (let i = 0; i < 20; i++) s.ws.send(chunk, { binary: false, fin: i === 19 });
    expect(await s.closed).toBe(1009);
    expect(s.got.find((m) => m.type === 'error')).toMatchObject({ code: 'frame_too_large' });
  });

  it('a message in more fragments than the library allows: told, then closed with a code', async () => {
    const s = await openRaw(`${small.wsUrl}/v1/ingest`);
    const empty = Buffer.alloc(0);
    for (let i = 0; i < 17_000; i++) s.ws.send(empty, { binary: false, fin: false });
    expect(await s.closed).toBe(1008);
    expect(s.got.find((m) => m.type === 'error')).toMatchObject({ code: 'frame_too_large', message: expect.stringMatching(/fragments/) });
  });

  it('a message in a few fragments under the limit is one message', async () => {
    const s = await openRaw(`${small.wsUrl}/v1/ingest`);
    const text = Buffer.from(JSON.stringify(hello('frames-frag')));
    const third = Math.ceil(text.length / 3);
    for (let i = 0; i < 3; i++) s.ws.send(text.subarray(i * third, (i + 1) * third), { binary: false, fin: i === 2 });
    for (let i = 0; i < 50 && !s.got.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(s.got[0]).toMatchObject({ type: 'welcome', runId: 'frames-frag' });
    s.ws.close();
  });
});

describe('text that is not UTF-8 is refused like bad JSON, and the socket keeps serving', () => {
  it.each([
    ['a stray continuation byte', Buffer.from([0x7b, 0x80, 0x7d])],
    ['a surrogate encoded in UTF-8 (CESU)', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])],
    ['a truncated sequence', Buffer.from([0x22, 0xe2, 0x82, 0x22])],
  ])('ingest: %s', async (_what, bytes) => {
    const s = await RawSocket.open(`${small.wsUrl}/v1/ingest`);
    s.ws.send(bytes, { binary: false });
    expect(await s.error()).toMatchObject({ code: 'bad_json', message: expect.stringMatching(/UTF-8/) });
    s.send(hello('frames-utf8'));
    expect(await s.next((m) => m.type === 'welcome')).toMatchObject({ runId: 'frames-utf8' });
    expect(s.closeCode).toBeNull();
    s.close();
  });

  it('live: the same', async () => {
    const s = await RawSocket.open(`${small.wsUrl}/v1/live`);
    s.ws.send(Buffer.from([0xff, 0xfe]), { binary: false });
    expect(await s.error()).toMatchObject({ code: 'bad_json', message: expect.stringMatching(/UTF-8/) });
    s.send({ type: 'subscribe', runs: ['frames-utf8'] });
    expect(await s.next((m) => (m as { type: string }).type === 'ready')).toBeTruthy();
    s.close();
  });
});

describe('broken framing is named before the close', () => {
  it.each([
    ['an unknown opcode', frame(0x83, Buffer.from('x'))],
    ['an unmasked client frame', frame(0x81, Buffer.from('{}'), false)],
    ['reserved bits set', frame(0xc1, Buffer.from('{}'))],
    ['a fragmented ping', frame(0x09, Buffer.alloc(0))],
  ])('%s: bad_frame, then 1002', async (_what, bytes) => {
    for (const path of ['/v1/ingest', '/v1/live']) {
      const s = await openRaw(`${small.wsUrl}${path}`);
      raw(s.ws).write(bytes);
      expect(await s.closed).toBe(1002);
      expect(s.got.find((m) => m.type === 'error')).toMatchObject({ code: 'bad_frame' });
    }
  });
});
