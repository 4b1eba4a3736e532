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
 * of them. What is compiled, and how it validates and serializes, is unchanged.
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
