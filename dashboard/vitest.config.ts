import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  // The svelte plugin compiles .svelte.ts modules, so stores using runes run under test.
  plugins: [svelte()],
  test: {
    name: 'dashboard',
    include: ['src/**/*.test.ts', 'e2e/**/*.test.ts'],
    // End-to-end files each start a server and a browser: one at a time keeps them steady.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
