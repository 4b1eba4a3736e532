import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root. This file sits two levels below it in the source tree (server/src/) and
 * so does the built server (server/dist/server.js, where this module is bundled in): both
 * migration folders are found from either, and the Docker image copies the whole tree.
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const MIGRATIONS_DIR = resolve(REPO_ROOT, 'migrations');
/** The PostgreSQL schema's migrations (drizzle-kit, server/drizzle.pg.config.ts). */
export const MIGRATIONS_PG_DIR = resolve(REPO_ROOT, 'migrations-pg');
export const DASHBOARD_DIST = resolve(REPO_ROOT, 'dashboard/dist');
