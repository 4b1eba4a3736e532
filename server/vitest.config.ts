import { configDefaults, defineConfig, defineProject } from 'vitest/config';

// Files that start servers run one at a time: two cores, no flakiness from contention.
const serial = { fileParallelism: false, testTimeout: 60_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    name: 'server',
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    // Several servers on one database: PostgreSQL only (server-pg).
    exclude: [...configDefaults.exclude, 'test/pg/**'],
    ...serial,
  },
});

/**
 * The same server tests on PostgreSQL: every test server gets a fresh database of its own on
 * GRADWATCH_TEST_PG_URL (npm test starts a throwaway cluster; test/helpers.ts startServer()).
 * Only tests that talk to the server over HTTP and WebSocket: files that read the SQLite file
 * themselves ($client / sqliteOf(), the CLIs on --data-dir) or spawn a server of their own stay SQLite-only.
 * Registered in the root vitest.config.ts (an inline project there, rooted in server/).
 */
export const serverPg = defineProject({
  test: {
    name: 'server-pg',
    root: 'server',
    include: [
      'test/pg/**/*.test.ts',
      'test/integration/**/*.test.ts',
      // The DL4J receiver writes through the same store.
      'test/dl4j/auth.test.ts',
      'test/dl4j/fuzz.test.ts',
      'test/dl4j/receive.test.ts',
      'test/security/cross-project.test.ts',
      'test/security/flood.test.ts',
      'test/security/frames.test.ts',
      'test/security/limits.test.ts',
    ],
    // Spawn a server of their own, on SQLite: nothing of PostgreSQL to test there. bundle.test.ts
    // also rebuilds server/dist, which it must not do while the other project runs it.
    exclude: ['test/integration/logging.test.ts', 'test/integration/bundle.test.ts'],
    env: { GRADWATCH_TEST_BACKEND: 'postgres' },
    globalSetup: ['test/pg-global-setup.ts'],
    setupFiles: ['test/pg-setup.ts'],
    ...serial,
  },
});
