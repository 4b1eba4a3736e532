/**
 * The layering the code is organised by (docs/architecture.md), checked on the source itself:
 * no import cycles, a feature's repository is imported only inside its own folder (and by the
 * plugin that builds the services), routes reach services only, and no file grows past 300 lines.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const sources = files(SRC);
const rel = (f: string) => relative(SRC, f);
/** Relative imports of a file, resolved to source paths (type-only ones included: they couple too). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)[^'"]*from\s+'(\.[^']+)'/gm)].map((m) => resolve(dirname(file), (m[1] as string).replace(/\.js$/, '.ts')));
}
const graph = new Map(sources.map((f) => [f, importsOf(f)]));
const featureOf = (f: string) => rel(f).split('/')[0] ?? '';

describe('architecture', () => {
  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].map(rel).join(' → '));
        return;
      }
      state.set(f, 'open');
      for (const g of graph.get(f) ?? []) if (graph.has(g)) visit(g, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of sources) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('imports a repository only from its own feature (and the backends that compose them)', () => {
    const composers = /^storage\/(backend|sqlite-backend|pg-backend)\.ts$/;
    const wrong: string[] = [];
    for (const [f, deps] of graph) {
      for (const d of deps) {
        if (!/\.(pg\.)?repo\.ts$/.test(d) || featureOf(d) === featureOf(f) || composers.test(rel(f)) || rel(f).startsWith('cli/')) continue;
        wrong.push(`${rel(f)} imports ${rel(d)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('lets routes call services, never repositories', () => {
    const wrong = [...graph].filter(([f]) => f.endsWith('.routes.ts')).flatMap(([f, deps]) => deps.filter((d) => d.endsWith('.repo.ts')).map((d) => `${rel(f)} imports ${rel(d)}`));
    expect(wrong).toEqual([]);
  });

  it('keeps every file under 300 lines', () => {
    const long = sources.map((f) => [rel(f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 300);
    expect(long).toEqual([]);
  });
});
