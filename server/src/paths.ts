import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root. This file sits two levels below it in the source tree (server/src/) and
 * so does the built server (server/dist/server.js, where this module is bundled in).
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const MIGRATIONS_DIR = resolve(REPO_ROOT, 'migrations');
export const DASHBOARD_DIST = resolve(REPO_ROOT, 'dashboard/dist');
