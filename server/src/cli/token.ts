/**
 * Token management on the database file, for a server running or not:
 *
 *   npm run token -- create --scope ingest|read|admin [--project NAME] [--name TEXT] [--expires WHEN]
 *   npm run token -- list
 *   npm run token -- revoke ID
 *
 * WHEN is an RFC 3339 time (2027-01-31T00:00:00Z) or a duration from now (90m, 12h, 30d).
 * Common option: --data-dir DIR (default GRADWATCH_DATA_DIR); with GRADWATCH_DATABASE_URL set, the
 * tokens of that PostgreSQL database instead. Tokens take effect when the server
 * runs with GRADWATCH_ADMIN_TOKEN set (auth on); a revoked token stops working at once.
 */
import { parseArgs } from 'node:util';
import { Value } from 'typebox/value';
import { ProjectName, TokenScope } from '@gradwatch/shared';
import { isoOf } from '../rfc3339.js';
import { StoreUnavailable } from '../storage/backend.js';
import { redactUrl } from '../storage/pg.js';
import { openPgBackend } from '../storage/pg-backend.js';
import { openSqliteBackend } from '../storage/sqlite-backend.js';
import { SCOPES } from '../tokens/tokens.repo.js';
import { dbFileOf, fail } from './common.js';

const USAGE = `usage: npm run token -- create --scope ${SCOPES.join('|')} [--project NAME] [--name TEXT] [--expires WHEN]
       npm run token -- list
       npm run token -- revoke ID
options: --data-dir DIR (default: GRADWATCH_DATA_DIR)
WHEN: an RFC 3339 time (2027-01-31T00:00:00Z) or a duration from now (90m, 12h, 30d)`;

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** --expires as an ISO time in the future, or a usage error. */
function expiryOf(when: string, now = Date.now()): string {
  const dur = /^([0-9]{1,6})([mhd])$/.exec(when);
  let iso: string;
  if (dur) iso = new Date(now + Number(dur[1]) * (UNIT_MS[dur[2] as string] as number)).toISOString();
  else {
    try {
      iso = isoOf('--expires', when);
    } catch (e) {
      return fail(`${(e as Error).message}; give an RFC 3339 time or a duration such as 30d\n${USAGE}`);
    }
  }
  if (Date.parse(iso) <= now) fail(`--expires ${when} is not in the future`);
  return iso;
}

const { values: opts, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        scope: { type: 'string' },
        project: { type: 'string' },
        name: { type: 'string' },
        expires: { type: 'string' },
        'data-dir': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    return fail(`${(e as Error).message}\n${USAGE}`);
  }
})();

const [command, ...rest] = positionals;
if (opts.help || command === undefined) {
  console.log(USAGE);
  process.exit(command === undefined && !opts.help ? 2 : 0);
}

// GRADWATCH_DATABASE_URL: the tokens of the PostgreSQL database every server shares; else the SQLite file.
const pgUrl = process.env.GRADWATCH_DATABASE_URL || null;
const file = pgUrl === null ? dbFileOf(opts['data-dir']) : redactUrl(pgUrl);
const store = await openStore();
const repo = store.repos.tokens;
try {
  if (command === 'create') {
    if (!Value.Check(TokenScope, opts.scope)) fail(`--scope must be one of ${SCOPES.join(', ')}\n${USAGE}`);
    if (opts.project !== undefined && !Value.Check(ProjectName, opts.project)) fail(`--project "${opts.project}" is not a valid project name`);
    const name = opts.name ?? `${opts.scope}${opts.project ? ` for ${opts.project}` : ''} (cli)`;
    if (name.length > 100) fail('--name is limited to 100 characters');
    const expiresAt = opts.expires === undefined ? null : expiryOf(opts.expires);
    const { info, secret } = await repo.create({ scope: opts.scope, project: opts.project ?? null, name, expiresAt });
    if (opts.json) console.log(JSON.stringify({ ...info, token: secret }));
    else {
      console.log(`created token ${info.id} "${info.name}": scope ${info.scope}, ${info.project ? `project ${info.project}` : 'every project'}, ${info.expiresAt ? `expires ${info.expiresAt}` : 'never expires'}`);
      console.log(`secret (shown once, store it now): ${secret}`);
    }
  } else if (command === 'list') {
    const rows = await repo.list();
    if (opts.json) console.log(JSON.stringify(rows));
    else if (rows.length === 0) console.log(`no tokens in ${file}`);
    else for (const t of rows) console.log(`${String(t.id).padStart(4)}  ${t.scope.padEnd(6)}  ${(t.project ?? '*').padEnd(20)}  ${t.hint}…  ${t.createdAt}  ${(t.expiresAt ?? 'never').padEnd(24)}  ${t.name}`);
  } else if (command === 'revoke') {
    const id = Number(rest[0]);
    if (!Number.isSafeInteger(id) || id < 1) fail(`revoke needs a token id (see "list")\n${USAGE}`);
    if (!(await repo.revoke(id))) fail(`no token ${id}`, 1);
    console.log(`revoked token ${id}`);
  } else {
    fail(`unknown command "${command}"\n${USAGE}`);
  }
} finally {
  await store.close();
}

async function openStore() {
  if (pgUrl === null) return openSqliteBackend(file);
  try {
    return await openPgBackend(pgUrl);
  } catch (e) {
    return fail(e instanceof StoreUnavailable ? e.message : String(e), 1);
  }
}
