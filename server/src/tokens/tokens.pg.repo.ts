import type { TokenInfo, TokenScope } from '@gradwatch/shared';
import type { PgDb } from '../storage/pg.js';
import { rowKeys } from '../storage/pg-sql.js';
import { tokens } from '../storage/schema.js';
import { hashToken, newSecret, toInfo, type TokenRow, type TokensRepo } from './tokens.repo.js';

const COLS = rowKeys(tokens);

/** The tokens table on PostgreSQL: the same queries as SqliteTokensRepo. */
export class PgTokensRepo implements TokensRepo {
  constructor(private readonly db: PgDb) {}

  /** Stores a new token; the secret is returned here and never again. */
  async create(input: { scope: TokenScope; project?: string | null; name: string; expiresAt?: string | null }): Promise<{ info: TokenInfo; secret: string }> {
    const secret = newSecret();
    const q = this.db.q();
    const [row] = await q<TokenRow[]>`
      INSERT INTO tokens (name, scope, project, hash, hint, created_at, expires_at)
      VALUES (${input.name}, ${input.scope}, ${input.project ?? null}, ${hashToken(secret)}, ${secret.slice(0, 7)}, ${new Date().toISOString()}, ${input.expiresAt ?? null})
      RETURNING ${q(COLS)}`;
    if (!row) throw new Error('INSERT INTO tokens returned no row');
    return { info: toInfo(row), secret };
  }

  async list(): Promise<TokenInfo[]> {
    const q = this.db.q();
    const rows = await q<TokenRow[]>`SELECT ${q(COLS)} FROM tokens ORDER BY id`;
    return rows.map(toInfo);
  }

  /** true when a token was deleted. */
  async revoke(id: number): Promise<boolean> {
    const q = this.db.q();
    return (await q`DELETE FROM tokens WHERE id = ${id}`).count > 0;
  }

  /** The expiry of each of these tokens that still exists (null: never expires). */
  async expiries(ids: number[]): Promise<Map<number, string | null>> {
    if (ids.length === 0) return new Map();
    const q = this.db.q();
    const rows = await q<Array<{ id: number; expiresAt: string | null }>>`SELECT id, expires_at FROM tokens WHERE id IN ${q(ids)}`;
    return new Map(rows.map((r) => [r.id, r.expiresAt]));
  }

  /** Looked up on every check, never cached: a token revoked by the CLI stops working at once. */
  async byHash(hash: string): Promise<TokenRow | undefined> {
    const q = this.db.q();
    const [row] = await q<TokenRow[]>`SELECT ${q(COLS)} FROM tokens WHERE hash = ${hash}`;
    return row;
  }
}
