// Scaffolding until the PostgreSQL backend lands (helper A replaces this file).
import type { Backend } from './backend.js';
import { redactUrl } from './pg.js';

export async function openPgBackend(url: string): Promise<Backend> {
  throw new Error(`PostgreSQL backend not built yet (${redactUrl(url)})`);
}
