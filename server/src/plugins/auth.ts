import { createHash, timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';

export interface Auth {
  /** Whether requests need a token at all (GRADWATCH_ADMIN_TOKEN set). */
  readonly required: boolean;
  /** null when the token is accepted; otherwise the reason, for the error message. */
  check(token: string | undefined): string | null;
  tokenOf(req: FastifyRequest): string | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    auth: Auth;
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Bearer tokens. With GRADWATCH_ADMIN_TOKEN unset the server is a single-user tool bound to
 * loopback and needs none; with it set, every route but /healthz and the dashboard asks for it.
 */
export default fp(
  async (app) => {
    const admin = app.config.adminToken;
    const adminDigest = admin === null ? null : digest(admin);
    const auth: Auth = {
      required: admin !== null,
      check(token) {
        if (adminDigest === null) return null;
        if (token === undefined || token === '') return 'this server requires a token: send Authorization: Bearer <token>';
        // Digests have equal lengths, so the comparison time says nothing about the token.
        return timingSafeEqual(digest(token), adminDigest) ? null : 'the token is not valid';
      },
      tokenOf(req) {
        const h = req.headers.authorization;
        if (h?.startsWith('Bearer ')) return h.slice(7).trim();
        const q = (req.query as Record<string, unknown> | undefined)?.token;
        return typeof q === 'string' ? q : undefined;
      },
    };
    app.decorate('auth', auth);
  },
  { name: 'auth', dependencies: ['config'] },
);
