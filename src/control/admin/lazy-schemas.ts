import type { FastifyServerOptions } from 'fastify'
import { createRequire } from 'node:module'

/**
 * Fastify compiles every route's JSON schemas (Ajv validators for bodies and
 * params, fast-json-stringify serializers for responses) when the app is
 * made ready. For the ~40 admin routes that is ~10 MiB of generated code and
 * Ajv state held from start-up on, though an operator calls a handful of
 * them, if any: the router's idle memory is mostly this and the modules.
 *
 * These factories wrap fastify's own compilers so that each route schema is
 * compiled on its route's first request instead; Ajv itself is created on the
 * first compile. Nothing else changes: the same compilers, options, errors
 * and `schemaEnv` (Ajv's handle, which fastify checks before a call).
 *
 * ```
 *   ready:          route → lazy(validate)          (no Ajv, no generated code)
 *   first request:  lazy(validate) → compile once → validate(data)
 *   later:          lazy(validate) → validate(data)
 * ```
 */

/** What fastify passes a validator or serializer compiler for one route schema. */
type RouteSchema = Record<string, unknown>
type Validate = ((data: unknown, cxt?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown }
type Serialize = (data: unknown) => string
type ValidatorCompiler = (route: RouteSchema) => Validate
type SerializerCompiler = (route: RouteSchema) => Serialize
type BuildValidator = (externalSchemas: unknown, options: unknown) => ValidatorCompiler
type BuildSerializer = (externalSchemas: unknown, options: unknown) => SerializerCompiler
/** fastify's type for `schemaController.compilersFactory` */
export type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>

/** A validator that compiles itself on its first call (or when fastify asks for its `schemaEnv`). */
export function lazyValidator(compile: () => Validate): Validate {
  let real: Validate | undefined
  const get = (): Validate => (real ??= compile())
  const validate = function (data: unknown, cxt?: unknown): unknown {
    const v = get()
    const ok = cxt === undefined ? v(data) : v(data, cxt)
    validate.errors = v.errors
    return ok
  } as Validate
  Object.defineProperty(validate, 'schemaEnv', { get: () => get().schemaEnv, enumerable: false })
  return validate
}

/** A serializer that compiles itself on its first call. */
export function lazySerializer(compile: () => Serialize): Serialize {
  let real: Serialize | undefined
  return (data) => (real ??= compile())(data)
}

/** fastify's own default compiler factories, resolved from fastify's install (the versions it would use). */
function fastifyDefaults(): { buildValidator: BuildValidator; buildSerializer: BuildSerializer } {
  const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'))
  const ajv = fromFastify('@fastify/ajv-compiler') as () => BuildValidator
  const fjs = fromFastify('@fastify/fast-json-stringify-compiler') as () => BuildSerializer
  return { buildValidator: ajv(), buildSerializer: fjs() }
}

/**
 * The `schemaController.compilersFactory` of a fastify app whose route schemas
 * compile on first use (see above). `defaults` is for tests.
 */
export function lazyCompilersFactory(
  defaults: { buildValidator: BuildValidator; buildSerializer: BuildSerializer } = fastifyDefaults(),
): CompilersFactory {
  const buildValidator: BuildValidator = (externalSchemas, options) => {
    let compiler: ValidatorCompiler | undefined
    return (route) => lazyValidator(() => (compiler ??= defaults.buildValidator(externalSchemas, options))(route))
  }
  const buildSerializer: BuildSerializer = (externalSchemas, options) => {
    let compiler: SerializerCompiler | undefined
    return (route) => lazySerializer(() => (compiler ??= defaults.buildSerializer(externalSchemas, options))(route))
  }
  // Cast: fastify's types want Ajv's ValidateFunction (with `schema`), which a lazy one has only once compiled.
  return { buildValidator, buildSerializer } as unknown as CompilersFactory
}
