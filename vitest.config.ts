import { defineConfig } from 'vitest/config';
import { serverPg } from './server/vitest.config.js';

export default defineConfig({
  test: {
    projects: ['shared', 'server', serverPg, 'dashboard', 'clients/node'],
  },
});
