import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const svelteDir = dirname(createRequire(import.meta.url).resolve('svelte/package.json'));

export default defineConfig({
  // The svelte plugin compiles .svelte.ts modules, so stores using runes run under test as the
  // browser runs them: client code on Svelte's browser runtime (the server build runs no effects).
  // Only Svelte is pointed at its browser entries: the end-to-end tests import the server, whose
  // packages (ws) must stay on their Node builds.
  plugins: [svelte({ dynamicCompileOptions: () => ({ generate: 'client' }) })],
  resolve: {
    alias: [
      { find: /^svelte$/, replacement: join(svelteDir, 'src/index-client.js') },
      { find: /^svelte\/reactivity$/, replacement: join(svelteDir, 'src/reactivity/index-client.js') },
    ],
  },
  test: {
    name: 'dashboard',
    include: ['src/**/*.test.ts', 'e2e/**/*.test.ts'],
    // End-to-end files each start a server and a browser: one at a time keeps them steady.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
