import { createHmac } from 'node:crypto';
import { hostOf, type TargetGuard } from './target-guard.js';

/** The header receivers verify deliveries with: sha256=<hex HMAC-SHA256 of the raw body>. */
export const SIGNATURE_HEADER = 'x-gradwatch-signature';

export const signatureOf = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;

export interface SendResult {
  status: number;
  /** Where a 3xx pointed; it is never followed. */
  location?: string;
}

/**
 * One signed POST. The guard checks the URL's host and the address the request connects to;
 * redirects are answered as they are, never followed (a redirect could point anywhere,
 * a private address included).
 */
export async function postSigned(url: string, body: string, secret: string, deliveryId: number, guard: TargetGuard, timeoutMs: number): Promise<SendResult> {
  const u = new URL(url);
  await guard.check(u);
  const lookup = guard.lookupFor(hostOf(u));
  // Loaded at the first delivery: node:http imported as an ES module loads undici with it, which
  // was ~50 ms of the server's start (Fastify's own require() of it does not).
  const { request } = u.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': 'gradwatch-webhook/1',
    'x-gradwatch-delivery': String(deliveryId),
  };
  if (secret !== '') headers[SIGNATURE_HEADER] = signatureOf(secret, body);
  return new Promise<SendResult>((resolve, reject) => {
    const req = request(u, { method: 'POST', headers, signal: AbortSignal.timeout(timeoutMs), ...(lookup ? { lookup } : {}) }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      res.on('end', () => resolve({ status, ...(location ? { location: location.slice(0, 300) } : {}) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
