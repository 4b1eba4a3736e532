/**
 * `npm start`'s entry in production (dist/start.js): turns on Node's on-disk code cache, then
 * loads the bundled server. Compiling the bundle and the packages it keeps external was
 * ~100-150 ms of every start on a 2-core machine; with the cache only the first start after a
 * build pays it. The cache lives in the OS temp folder (NODE_COMPILE_CACHE moves it); a cache
 * that cannot be written costs nothing but the saving.
 */
import { enableCompileCache } from 'node:module';

enableCompileCache();
// Built without bundling: this stays an import of the bundle beside it (dist/server.js).
await import('./server.js');
