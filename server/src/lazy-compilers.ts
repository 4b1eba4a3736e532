import AjvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler';
import { SerializerSelector, type SerializerFactory } from '@fastify/fast-json-stringify-compiler';

/** A validator as Fastify calls it: the result, and ajv's errors on the function after a failure. */
interface Validate {
  (data: unknown): unknown;
  errors?: unknown;
}

/**
 * Fastify's own compilers (ajv for requests, fast-json-stringify for responses), with each
 * route's code generated at its first request instead of at boot. Compiling the schemas of every
 * route and status took ~300 ms of a ~1.1 s start on a 2-core machine, and a session calls few
 * of them. The same code is compiled; a broken schema now fails its route's first request (every
 * route is driven by test/security/auth-matrix.test.ts). Not forwarded: ajv's root-value context,
 * which only a non-object body schema would need (every body here is an object).
 */
export interface LazyCompilers {
  buildValidator: ValidatorFactory;
  buildSerializer: SerializerFactory;
  /**
   * Compiles what no request has compiled yet, one schema per turn of the event loop (a request
   * that arrives meanwhile waits for one compile at most), so a dashboard's first page finds its
   * routes ready. A schema that fails to compile is left to fail its route's first request.
   */
  warmUp(): Promise<void>;
}

export function lazyCompilers(): LazyCompilers {
  const ajv = AjvCompiler();
  const fjs = SerializerSelector();
  const pending: Array<() => unknown> = [];
  const buildValidator = ((externalSchemas, options) => {
    const compile = ajv(externalSchemas, options);
    return (route) => {
      let fn: Validate | undefined;
      const ensure = (): Validate => (fn ??= compile(route) as Validate);
      pending.push(ensure);
      const validate: Validate = (data) => {
        const f = ensure();
        const out = f(data);
        validate.errors = f.errors;
        return out;
      };
      return validate;
    };
  }) as ValidatorFactory;
  const buildSerializer: SerializerFactory = (externalSchemas, options) => {
    const compile = fjs(externalSchemas, options);
    return (route) => {
      let fn: ((doc: unknown) => string) | undefined;
      const ensure = () => (fn ??= compile(route));
      pending.push(ensure);
      return (doc) => ensure()(doc);
    };
  };
  const warmUp = (): Promise<void> =>
    new Promise((resolve) => {
      const next = (): void => {
        const ensure = pending.shift();
        if (!ensure) return resolve();
        try {
          ensure();
        } catch {
          // its route's first request compiles it again and answers 500 (the one error handler)
        }
        setTimeout(next, 0).unref();
      };
      next();
    });
  return { buildValidator, buildSerializer, warmUp };
}
