import type { TokenCreate, TokenCreated, TokenInfo } from '@gradwatch/shared';
import { notFound } from '../http-errors.js';
import { hashToken, type TokenRow, type TokensRepo } from './tokens.repo.js';

/** Stored tokens: create (the secret is shown once), list, revoke, and look-up by secret. */
export class TokensService {
  constructor(private readonly repo: TokensRepo) {}

  create(input: TokenCreate): TokenCreated {
    const { info, secret } = this.repo.create(input);
    return { ...info, token: secret };
  }

  list(): TokenInfo[] {
    return this.repo.list();
  }

  revoke(id: number): void {
    if (!this.repo.revoke(id)) throw notFound(`no token ${id}`);
  }

  /** Looked up on every check, never cached: a token revoked by the CLI stops working at once. */
  bySecret(secret: string): TokenRow | undefined {
    return secret.length <= 500 ? this.repo.byHash(hashToken(secret)) : undefined;
  }
}
