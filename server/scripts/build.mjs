// Bundles the server into server/dist/server.js for `npm start` (through dist/start.js): plain JavaScript, no TypeScript
// loader on the start path, and the npm packages bundled in too. Resolving and loading the
// hundreds of files of fastify, typebox and drizzle one by one took most of the start (3.3 s of
// 3.4 s to the first /healthz on a 2-core machine; 1.3 s bundled).
// Stays external what reads its own files at run time (native modules, which find their binary
// from their own folder; the swagger packages, which read their package.json and UI assets)
// and ws's optional native helpers.
import { build } from 'esbuild';

const external = [
  'better-sqlite3', 'msgpackr-extract', '@fastify/swagger', '@fastify/swagger-ui', '@fastify/static',
  'bufferutil', 'utf-8-validate',
];

await build({
  entryPoints: [new URL('../src/server.ts', import.meta.url).pathname],
  outfile: new URL('../dist/server.js', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  external: [...external, ...external.map((d) => `${d}/*`)],
  // The CommonJS packages inside (fastify, pino, ws) call require(), which an ES module lacks.
  banner: { js: "import { createRequire as __gwRequire } from 'node:module'; const require = __gwRequire(import.meta.url);" },
  sourcemap: true,
  logLevel: 'warning',
});

// The entry that turns the code cache on before the bundle is compiled (src/start.ts).
await build({
  entryPoints: [new URL('../src/start.ts', import.meta.url).pathname],
  outfile: new URL('../dist/start.js', import.meta.url).pathname,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  logLevel: 'warning',
});
