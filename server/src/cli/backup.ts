/**
 * A consistent copy of the database, safe while the server is running and ingesting:
 *
 *   npm run backup -- DEST [--data-dir DIR]
 *
 * Uses SQLite's online backup (better-sqlite3 db.backup()): pages are copied in steps, and a
 * write by the server during the copy restarts the affected part, so DEST is the database as of
 * one commit. The copy is checked (PRAGMA quick_check) before the command reports success.
 *
 * SQLite only: with GRADWATCH_DATABASE_URL set (the server on PostgreSQL) it copies nothing and
 * says to use pg_dump (exit code 2), rather than back up a SQLite file the server does not use.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { dbFileOf, fail, mustExist, userCwd } from './common.js';

const USAGE = 'usage: npm run backup -- DEST [--data-dir DIR] [--force]';

/** The URL for a pg_dump command line: without its password, which pg_dump takes from PGPASSWORD or ~/.pgpass. */
function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return '<GRADWATCH_DATABASE_URL without its password>';
  }
}

const databaseUrl = process.env.GRADWATCH_DATABASE_URL;
if (databaseUrl) {
  fail(
    'GRADWATCH_DATABASE_URL is set: the server keeps its data in PostgreSQL, and `npm run backup` backs up SQLite only.\n' +
      `Back up PostgreSQL with pg_dump instead (the password from PGPASSWORD or ~/.pgpass):\n  pg_dump --format=custom --file=gradwatch.dump '${withoutPassword(databaseUrl)}'`,
  );
}

const { values: opts, positionals } = (() => {
  try {
    return parseArgs({ allowPositionals: true, options: { 'data-dir': { type: 'string' }, force: { type: 'boolean', default: false } } });
  } catch (e) {
    return fail(`${(e as Error).message}\n${USAGE}`);
  }
})();

const destArg = positionals[0];
if (destArg === undefined || positionals.length > 1) fail(USAGE);
const dest = isAbsolute(destArg) ? destArg : resolve(userCwd(), destArg);
const src = dbFileOf(opts['data-dir']);
mustExist(src);
if (resolve(dest) === resolve(src)) fail('DEST is the live database itself');
if (existsSync(dest) && !opts.force) fail(`${dest} exists; pass --force to overwrite it`);

const t0 = Date.now();
const db = new Database(src, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
try {
  await db.backup(dest);
} catch (e) {
  fail(`backup failed: ${(e as Error).message}`, 1);
} finally {
  db.close();
}
const copy = new Database(dest, { readonly: true });
const check = copy.pragma('quick_check', { simple: true });
const runs = (copy.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n;
copy.close();
if (check !== 'ok') fail(`the copy failed its check: ${String(check)}`, 1);
console.log(`backed up ${src} to ${dest}: ${(statSync(dest).size / 1e6).toFixed(1)} MB, ${runs} runs, in ${Date.now() - t0} ms`);
