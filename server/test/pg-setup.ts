/**
 * Setup file of the server-pg vitest project: no PostgreSQL database a test file made outlives it
 * (a test may stop before its removeDir, or restart servers on a data dir it never removes).
 */
import { afterAll } from 'vitest';
import { dropAllPgDatabases } from './pg-databases.js';

// Registered first, so it runs after the test file's own afterAll hooks have closed its servers.
afterAll(dropAllPgDatabases);
