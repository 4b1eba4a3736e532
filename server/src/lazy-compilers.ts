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
export function lazyCompilers(): { buildValidator: ValidatorFactory; buildSerializer: SerializerFactory } {
  const ajv = AjvCompiler();
  const fjs = SerializerSelector();
  const buildValidator = ((externalSchemas, options) => {
    const compile = ajv(externalSchemas, options);
    return (route) => {
      let fn: Validate | undefined;
      const validate: Validate = (data) => {
        fn ??= compile(route) as Validate;
        const out = fn(data);
        validate.errors = fn.errors;
        return out;
      };
      return validate;
    };
  }) as ValidatorFactory;
  const buildSerializer: SerializerFactory = (externalSchemas, options) => {
    const compile = fjs(externalSchemas, options);
    return (route) => {
      let fn: ((doc: unknown) => string) | undefined;
      return (doc) => (fn ??= compile(route))(doc);
    };
  };
  return { buildValidator, buildSerializer };
}
