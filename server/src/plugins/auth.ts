import { createHash, timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { TokenScope } from '@gradwatch/shared';
import { TokenSockets } from '../tokens/token-sockets.js';
import { isExpired } from '../tokens/tokens.service.js';

export type Scope = TokenScope;

/** Who is asking: the bootstrap admin (tokenId null) or a stored token. */
export interface Principal {
  tokenId: number | null;
  name: string;
  scope: Scope;
  /** The one project this principal may see; null: every project. */
  project: string | null;
}

/** Why not: 401 (no or unknown token) or 403 (a valid token that may not do this). */
export interface Denial {
  status: 401 | 403 | 404;
  code: 'unauthorized' | 'forbidden' | 'not_found';
  message: string;
}

/**
 * How a route is guarded. public: no token (health, OpenAPI, dashboard files); socket: the
 * socket checks in its protocol (hello.token, the live auth message); scope: a REST route.
 * global: only tokens not limited to a project (token management).
 */
export type RoutePolicy = { kind: 'public' } | { kind: 'socket' } | { kind: 'scope'; scope: Scope; global: boolean };

export interface Auth {
  /** Whether requests need a token at all (GRADWATCH_ADMIN_TOKEN set). */
  readonly required: boolean;
  /** The principal a token stands for, or why it stands for none. Auth off: an unrestricted admin. */
  identify(token: string | undefined): Promise<Principal | Denial>;
  /** null when the token may act with this scope (on this project, when one is given). */
  check(token: string | undefined, scope: Scope, project?: string | null): Promise<Denial | null>;
  /**
   * The ingest socket's hello: scope ingest, and the run's project. Given the socket, an
   * accepted stored token is bound to it, so revoking or expiry closes it.
   */
  checkIngest(token: string | undefined, project: string, socket?: WebSocket): Promise<Denial | null>;
  /** The live socket: scope read; a project-limited token only for runs of its project. Binds as checkIngest. */
  checkLive(token: string | undefined, runUids: string[], socket?: WebSocket): Promise<Denial | null>;
  /** Open sockets by the stored token that let them in. */
  readonly sockets: TokenSockets;
  tokenOf(req: FastifyRequest): string | undefined;
  policyOf(method: string, url: string): RoutePolicy;
  /** Every route registered (onRoute), for the startup check and the auth matrix test. */
  readonly routes: ReadonlyArray<{ method: string; url: string }>;
}

declare module 'fastify' {
  interface FastifyInstance {
    auth: Auth;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** How often open sockets' tokens are checked for expiry and revocation by another process. */
const SWEEP_MS = 250;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** admin may do everything; read and ingest only themselves. */
const grants = (has: Scope, needs: Scope): boolean => has === 'admin' || has === needs;

const isDenial = (x: Principal | Denial): x is Denial => 'status' in x;

const ROOT: Principal = { tokenId: null, name: 'admin (GRADWATCH_ADMIN_TOKEN)', scope: 'admin', project: null };
const OPEN: Principal = { tokenId: null, name: 'anonymous (auth off)', scope: 'admin', project: null };

export function policyOf(method: string, url: string): RoutePolicy {
  if (url.startsWith('/v1/')) return { kind: 'socket' };
  if (url === '/api' || url.startsWith('/api/')) {
    if (url === '/api/v1/tokens' || url.startsWith('/api/v1/tokens/')) return { kind: 'scope', scope: 'admin', global: true };
    // Reads need read; anything that changes something (deletes, settings) needs admin.
    return { kind: 'scope', scope: method === 'GET' || method === 'HEAD' ? 'read' : 'admin', global: false };
  }
  return { kind: 'public' };
}

const deny = (reply: FastifyReply, d: Denial) =>
  reply.code(d.status).send({ statusCode: d.status, error: d.status === 401 ? 'Unauthorized' : d.status === 403 ? 'Forbidden' : 'Not Found', message: d.message });

/**
 * Bearer tokens with scopes, optionally limited to one project; the one place where access is
 * decided. With GRADWATCH_ADMIN_TOKEN unset the server is a single-user tool bound to loopback
 * and needs none; with it set, every route but the public ones asks for a token. Stored tokens
 * are looked up by their sha256; the bootstrap token is compared in constant time.
 */
export default fp(
  async (app) => {
    const admin = app.config.adminToken;
    const adminDigest = admin === null ? null : digest(admin);
    const required = admin !== null;
    const routes: Array<{ method: string; url: string }> = [];
    // The domain services are read when a request comes, after the domain plugin made them.
    const projectOfRun = (uid: string): Promise<string | null> => app.runs.projectOf(uid);

    const identify = async (token: string | undefined): Promise<Principal | Denial> => {
      if (!required) return OPEN;
      if (token === undefined || token === '') {
        return { status: 401, code: 'unauthorized', message: 'this server requires a token: send Authorization: Bearer <token> (ingest: "token" in hello; live socket: an auth message or ?token=)' };
      }
      // Digests have equal lengths, so the comparison time says nothing about the token.
      if (adminDigest !== null && timingSafeEqual(digest(token), adminDigest)) return ROOT;
      const row = await app.tokens.bySecret(token);
      if (!row) return { status: 401, code: 'unauthorized', message: 'the token is not valid (unknown or revoked)' };
      if (isExpired(row.expiresAt)) return { status: 401, code: 'unauthorized', message: `the token expired at ${row.expiresAt}` };
      return { tokenId: row.id, name: row.name, scope: row.scope as Scope, project: row.project };
    };

    /** null when this principal may act with this scope (on this project, when one is given). */
    const allows = (p: Principal, scope: Scope, project?: string | null): Denial | null => {
      if (!grants(p.scope, scope)) {
        return { status: 403, code: 'forbidden', message: `this token has scope "${p.scope}"; this needs "${scope}"` };
      }
      if (p.project !== null && project !== undefined && project !== p.project) {
        return { status: 403, code: 'forbidden', message: `this token is limited to project "${p.project}"` };
      }
      return null;
    };

    const check = async (token: string | undefined, scope: Scope, project?: string | null): Promise<Denial | null> => {
      const p = await identify(token);
      return isDenial(p) ? p : allows(p, scope, project);
    };

    const sockets = new TokenSockets((ids) => app.tokens.expiries(ids));

    const auth: Auth = {
      required,
      routes,
      sockets,
      identify,
      check,
      async checkIngest(token, project, socket) {
        const p = await identify(token);
        if (isDenial(p)) return p;
        const denied = allows(p, 'ingest', project);
        if (!denied && socket) sockets.bind(socket, p.tokenId);
        return denied;
      },
      async checkLive(token, runUids, socket) {
        const p = await identify(token);
        if (isDenial(p)) return p;
        const denied = allows(p, 'read');
        if (denied) return denied;
        if (socket) sockets.bind(socket, p.tokenId);
        if (p.project === null) return null;
        for (const uid of runUids) {
          if (uid === '*') {
            return { status: 403, code: 'forbidden', message: `this token is limited to project "${p.project}": subscribe to its runs by id, not to "*"` };
          }
          if ((await projectOfRun(uid)) !== p.project) {
            return { status: 403, code: 'forbidden', message: `run ${uid} is not in project "${p.project}", the one this token is limited to` };
          }
        }
        return null;
      },
      tokenOf(req) {
        const h = req.headers.authorization;
        if (h?.startsWith('Bearer ')) return h.slice(7).trim();
        const q = (req.query as Record<string, unknown> | undefined)?.token;
        return typeof q === 'string' ? q : undefined;
      },
      policyOf,
    };
    app.decorate('auth', auth);
    app.decorateRequest('principal', null);

    // Revocation and expiry reach open sockets: at once for a revocation through the API, within
    // the sweep period for an expiry or a revocation by the CLI.
    app.addHook('onReady', async () => {
      app.tokens.onRevoked((id) => sockets.end(id, 'revoked'));
      if (required) sockets.start(SWEEP_MS);
    });
    app.addHook('onClose', async () => sockets.stop());

    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) routes.push({ method, url: route.url });
    });

    // REST guard, for every route registered after this plugin (and the 404 handler).
    app.addHook('onRequest', async (req, reply) => {
      const url = req.routeOptions.url ?? req.url.split('?')[0] ?? '/';
      const policy = policyOf(req.method, url);
      if (policy.kind !== 'scope' || !required) return;
      const p = await identify(auth.tokenOf(req));
      if (isDenial(p)) return deny(reply, p);
      if (!grants(p.scope, policy.scope)) {
        return deny(reply, { status: 403, code: 'forbidden', message: `this token has scope "${p.scope}"; ${req.method} ${url} needs "${policy.scope}"` });
      }
      if (p.project !== null && policy.global) {
        return deny(reply, { status: 403, code: 'forbidden', message: `this token is limited to project "${p.project}"; managing tokens needs an admin token for every project` });
      }
      req.principal = p;
    });

    // Project limits are checked on the parameters as the route will use them (validated and
    // coerced), so no spelling of an id ("1.0", "+1", "0x1") can name a row the check did not see.
    app.addHook('preHandler', async (req, reply) => {
      const p = req.principal;
      if (!p || p.project === null) return;
      const url = req.routeOptions.url ?? '';
      const params = (req.params ?? {}) as Record<string, unknown>;
      if (typeof params.project === 'string' && params.project !== p.project) {
        return deny(reply, { status: 403, code: 'forbidden', message: `this token is limited to project "${p.project}"` });
      }
      // A run or alert of another project looks exactly like one that does not exist. An :id
      // whose project cannot be told (and no :project beside it) is refused: fail closed.
      if (params.id !== undefined && typeof params.project !== 'string') {
        const kind = url.startsWith('/api/v1/runs/:id') ? 'run' : url.startsWith('/api/v1/alerts/:id') ? 'alert' : null;
        if (kind === null) {
          return deny(reply, { status: 403, code: 'forbidden', message: `${req.method} ${url} is not open to tokens limited to a project` });
        }
        // An alert id that is not the number the route will use is refused, not looked up another way.
        if (kind === 'alert' && typeof params.id !== 'number') return deny(reply, { status: 404, code: 'not_found', message: `no alert ${String(params.id)}` });
        const project = kind === 'run' ? await projectOfRun(String(params.id)) : await app.alerts.projectOf(params.id as number);
        if (project !== null && project !== p.project) return deny(reply, { status: 404, code: 'not_found', message: `no ${kind} ${String(params.id)}` });
      }
      // Listings that take a project filter are pinned to the token's project.
      const query = req.query as Record<string, unknown> | undefined;
      const schema = req.routeOptions.schema?.querystring as { properties?: Record<string, unknown> } | undefined;
      if (query && typeof query === 'object' && schema?.properties?.project !== undefined) {
        if (query.project !== undefined && query.project !== p.project) {
          return deny(reply, { status: 403, code: 'forbidden', message: `this token is limited to project "${p.project}"` });
        }
        query.project = p.project;
      }
    });

    // The project listing has no filter: a project-limited token sees its own project only.
    app.addHook('preSerialization', async (req, _reply, payload: unknown) => {
      const p = req.principal;
      if (!p || p.project === null || req.routeOptions.url !== '/api/v1/projects') return payload;
      const body = payload as { projects?: Array<{ name: string }> };
      if (!Array.isArray(body?.projects)) return payload;
      return { ...body, projects: body.projects.filter((x) => x.name === p.project) };
    });
  },
  { name: 'auth', dependencies: ['config'] },
);
