import type { TokenCreate, TokenCreated, TokenInfo } from '@gradwatch/shared';
import { badRequest, notFound } from '../http-errors.js';
import { isoOf } from '../rfc3339.js';
import { hashToken, type TokenRow, type TokensRepo } from './tokens.repo.js';

/** Whether a token with this expiry (ISO, or null: never) is past it at `now`. */
export const isExpired = (expiresAt: string | null, now = Date.now()): boolean => expiresAt !== null && Date.parse(expiresAt) <= now;

/** Stored tokens: create (the secret is shown once), list, revoke, and look-up by secret. */
export class TokensService {
  private readonly revokeListeners: Array<(id: number) => void> = [];

  constructor(private readonly repo: TokensRepo) {}

  async create(input: TokenCreate): Promise<TokenCreated> {
    const expiresAt = input.expiresAt === undefined ? null : isoOf('expiresAt', input.expiresAt);
    if (expiresAt !== null && isExpired(expiresAt)) throw badRequest(`expiresAt ${input.expiresAt} is not in the future`);
    const { info, secret } = await this.repo.create({ ...input, expiresAt });
    return { ...info, token: secret };
  }

  list(): Promise<TokenInfo[]> {
    return this.repo.list();
  }

  /** Deletes the token; listeners (the open sockets it authorised) hear of it at once. */
  async revoke(id: number): Promise<void> {
    if (!(await this.repo.revoke(id))) throw notFound(`no token ${id}`);
    for (const l of this.revokeListeners) l(id);
  }

  onRevoked(listener: (id: number) => void): void {
    this.revokeListeners.push(listener);
  }

  /** Looked up on every check, never cached: a token revoked by the CLI stops working at once. */
  async bySecret(secret: string): Promise<TokenRow | undefined> {
    return secret.length <= 500 ? this.repo.byHash(hashToken(secret)) : undefined;
  }

  /** The expiry of each token of these ids that still exists; a missing id was revoked. */
  expiries(ids: number[]): Promise<Map<number, string | null>> {
    return this.repo.expiries(ids);
  }
}
