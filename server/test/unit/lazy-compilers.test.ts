/** The lazy route compilers: the same validators as Fastify's own, compiled at first use or by warmUp. */
import { describe, expect, it } from 'vitest';
import { lazyCompilers } from '../../src/lazy-compilers.js';

type Validate = ((data: unknown) => unknown) & { errors?: unknown };

const route = (schema: unknown, url: string) => ({ schema, method: 'POST', url, httpPart: 'body' });

describe('lazy compilers', () => {
  it('validate as ajv does, and warmUp finishes even when a schema cannot compile', async () => {
    const c = lazyCompilers();
    const compile = c.buildValidator({}, { customOptions: {}, plugins: [] } as never) as unknown as (r: unknown) => Validate;
    const good = compile(route({ type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }, '/good'));
    const broken = compile(route({ type: 'no-such-type' }, '/broken'));
    const serialize = (c.buildSerializer({}, {} as never) as unknown as (r: unknown) => (doc: unknown) => string)({
      schema: { type: 'object', properties: { ok: { type: 'boolean' } } }, method: 'GET', url: '/s', httpPart: 'response',
    });
    await c.warmUp();
    expect(good({ n: 1 })).toBe(true);
    expect(good({ n: 'x' })).toBe(false);
    expect(good.errors).toEqual([expect.objectContaining({ instancePath: '/n' })]);
    expect(serialize({ ok: true, extra: 1 })).toBe('{"ok":true}');
    // Left for its route's first request, which fails (Fastify answers it with a 500).
    expect(() => broken({})).toThrow();
  });
});
