import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// `npm run dev -w dashboard` proxies the API and the live socket to a server on :8080.
export default defineConfig({
  plugins: [svelte()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 600 },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/v1': { target: 'ws://127.0.0.1:8080', ws: true },
    },
  },
});
