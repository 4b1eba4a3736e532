import type { Notices } from './backend.js';
import type { PgDb } from './pg.js';

/** The channel every gradwatch server of one database listens on. */
const CHANNEL = 'gradwatch';
/** PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more. */
export const MAX_NOTICE_BYTES = 7_900;

/**
 * LISTEN/NOTIFY between the servers of one database. postgres.js keeps the listening
 * connection apart from the pool and listens again after it reconnects.
 */
export class PgNotices implements Notices {
  constructor(private readonly db: PgDb) {}

  async publish(payloads: readonly string[]): Promise<void> {
    if (payloads.length === 0) return;
    for (const p of payloads) if (Buffer.byteLength(p) >= MAX_NOTICE_BYTES) throw new Error(`a notice of ${Buffer.byteLength(p)} bytes is over PostgreSQL's limit`);
    // One round trip for the lot.
    await this.db.q()`SELECT pg_notify(${CHANNEL}, p) FROM unnest(${this.db.sql.array(payloads as string[])}::text[]) AS p`;
  }

  async listen(onNotice: (payload: string) => void): Promise<() => Promise<void>> {
    const req = await this.db.sql.listen(CHANNEL, onNotice);
    return () => req.unlisten();
  }
}
