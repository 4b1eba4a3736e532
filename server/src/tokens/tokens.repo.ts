import { createHash, randomBytes } from 'node:crypto';
import { eq, inArray } from 'drizzle-orm';
import type { TokenInfo, TokenScope } from '@gradwatch/shared';
import type { Db } from '../storage/db.js';
import { tokens } from '../storage/schema.js';

export const SCOPES: readonly TokenScope[] = ['ingest', 'read', 'admin'];

/** sha256 of a secret, hex: what the table stores and looks tokens up by. */
export const hashToken = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

/** A new secret: "gw_" and 32 random bytes, base64url (256 bits). */
export const newSecret = (): string => `gw_${randomBytes(32).toString('base64url')}`;

export type TokenRow = typeof tokens.$inferSelect;

export function toInfo(r: TokenRow): TokenInfo {
  return { id: r.id, name: r.name, scope: r.scope as TokenScope, project: r.project, hint: r.hint, createdAt: r.createdAt, expiresAt: r.expiresAt };
}

/** The tokens table: the REST routes, the CLI and the auth plugin share it. */
export interface TokensRepo {
  /** Stores a new token; the secret is returned here and never again. */
  create(input: { scope: TokenScope; project?: string | null; name: string; expiresAt?: string | null }): Promise<{ info: TokenInfo; secret: string }>;
  list(): Promise<TokenInfo[]>;
  /** true when a token was deleted. */
  revoke(id: number): Promise<boolean>;
  /** The expiry of each of these tokens that still exists (null: never expires). */
  expiries(ids: number[]): Promise<Map<number, string | null>>;
  /** Looked up on every check, never cached: a token revoked by the CLI stops working at once. */
  byHash(hash: string): Promise<TokenRow | undefined>;
}

export class SqliteTokensRepo implements TokensRepo {
  private readonly byHashStmt;

  constructor(private readonly db: Db) {
    this.byHashStmt = db.$client.prepare('SELECT id, name, scope, project, hash, hint, created_at AS createdAt, expires_at AS expiresAt FROM tokens WHERE hash = ?');
  }

  /** Stores a new token; the secret is returned here and never again. */
  async create(input: { scope: TokenScope; project?: string | null; name: string; expiresAt?: string | null }): Promise<{ info: TokenInfo; secret: string }> {
    const secret = newSecret();
    const row = this.db
      .insert(tokens)
      .values({
        name: input.name,
        scope: input.scope,
        project: input.project ?? null,
        hash: hashToken(secret),
        hint: secret.slice(0, 7),
        createdAt: new Date().toISOString(),
        expiresAt: input.expiresAt ?? null,
      })
      .returning()
      .get();
    return { info: toInfo(row), secret };
  }

  async list(): Promise<TokenInfo[]> {
    return this.db.select().from(tokens).orderBy(tokens.id).all().map(toInfo);
  }

  /** true when a token was deleted. */
  async revoke(id: number): Promise<boolean> {
    return this.db.delete(tokens).where(eq(tokens.id, id)).run().changes > 0;
  }

  /** The expiry of each of these tokens that still exists (null: never expires). */
  async expiries(ids: number[]): Promise<Map<number, string | null>> {
    if (ids.length === 0) return new Map();
    const rows = this.db.select({ id: tokens.id, expiresAt: tokens.expiresAt }).from(tokens).where(inArray(tokens.id, ids)).all();
    return new Map(rows.map((r) => [r.id, r.expiresAt]));
  }

  /** Looked up on every check, never cached: a token revoked by the CLI stops working at once. */
  async byHash(hash: string): Promise<TokenRow | undefined> {
    return this.byHashStmt.get(hash) as TokenRow | undefined;
  }
}
