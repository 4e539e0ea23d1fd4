import swagger from '@fastify/swagger'
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type RawServerDefault } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { isLoopback } from '../../config/index.js'
import { createAuthHook } from './auth.js'
import { lazyCompilersFactory } from './lazy-schemas.js'
import { adminErrorHandler, adminNotFoundHandler } from './errors.js'
import { appsRoutes, perAppRoutes } from './apps.js'
import { mirrorRoutes } from './routes/mirror.js'
import { changeRoutes } from './routes/changes.js'
import { cohortRoutes } from './routes/cohorts.js'
import { explainRoutes } from './routes/explain.js'
import { healthRoutes } from './routes/health.js'
import { createOriginGuard } from './origin.js'
import { historyRoutes } from './routes/history.js'
import { probeRoutes } from './routes/probes.js'
import { rolloutRoutes } from './routes/rollout.js'
import { smokeRoutes } from './routes/smoke.js'
import { stateRoutes } from './routes/state.js'
import type { AdminDeps } from './types.js'

/** The admin app, typed with the TypeBox provider. */
export type AdminApp = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>

/**
 * A route plugin added by another part of the control plane (smoke,
 * rollout, metrics...), written with or without the TypeBox provider.
 */
export type AdminPlugin = FastifyPluginAsync | FastifyPluginAsyncTypebox

export interface AdminAppOptions {
  /** registered after the core routes; they share auth, error handling and the OpenAPI document */
  plugins?: AdminPlugin[]
  /** a pino logger (create it with the token redacted), true for a default one, false/absent for none */
  logger?: boolean | Logger
  /** the listener's timeouts; tests shorten them */
  timeouts?: Partial<AdminTimeouts>
  /**
   * Compile every route's schemas when the app is made ready (fastify's
   * default) instead of on each route's first request. Tests use it to prove
   * every schema compiles, which lazy compiling would only show on first use.
   */
  eagerSchemas?: boolean
}

/** How long the admin listener waits for a client, in milliseconds. */
export interface AdminTimeouts {
  /** the request head (line and headers) must arrive within this */
  headersMs: number
  /** the whole request, body included (64 MiB at ~1 MB/s) */
  requestMs: number
  /** a socket with no traffic at all is closed (SSE streams send every 1–2 s) */
  idleMs: number
  /** an idle keep-alive connection is closed */
  keepAliveMs: number
}

/**
 * Without these a client that sends a head or a body slowly holds a
 * connection (and its buffers) open for as long as it likes; Node's own
 * request timeout is 5 minutes and headers are checked only every 30 s.
 */
export const ADMIN_TIMEOUTS: Readonly<AdminTimeouts> = Object.freeze({
  headersMs: 10_000,
  requestMs: 60_000,
  idleMs: 60_000,
  keepAliveMs: 5_000,
})

/**
 * Bodies up to 64 MiB: a cohort with a million user ids of ~40 characters is
 * about 45 MiB of JSON.
 */
export const ADMIN_BODY_LIMIT = 64 * 1024 * 1024

/** Log paths that must never be written: the bearer token. */
export const ADMIN_LOG_REDACT = ['req.headers.authorization', 'headers.authorization']

/**
 * Builds the admin API (not listening; the caller calls `.listen`).
 *
 * Order matters and is the point of this function: error handlers and the
 * auth hook are set on the root first, so every route registered afterwards
 * — the core routes here and `opts.plugins` — is guarded and answers errors
 * the same way.
 *
 * @example
 * const app = createAdminApp({ apps: appDirectory([shop, blog]), config }, { plugins: [metricsRoutes({ registry })] })
 * await app.listen({ host: config.admin.host, port: config.admin.port })
 */
export function createAdminApp(deps: AdminDeps, opts: AdminAppOptions = {}): AdminApp {
  const logger = opts.logger
  const timeouts = { ...ADMIN_TIMEOUTS, ...opts.timeouts }
  const app = Fastify({
    ...(typeof logger === 'object'
      ? // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it (overloads)
        { loggerInstance: logger as FastifyBaseLogger }
      : { logger: logger === true ? { level: 'info', redact: ADMIN_LOG_REDACT } : false }),
    bodyLimit: ADMIN_BODY_LIMIT,
    connectionTimeout: timeouts.idleMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    requestTimeout: timeouts.requestMs,
    http: {
      headersTimeout: timeouts.headersMs,
      // How often Node looks for connections past headersTimeout/requestTimeout (default 30 s).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(timeouts.headersMs / 2))),
    },
    // Each route's schemas compile on its first request, not at start (lazy-schemas.ts).
    ...(opts.eagerSchemas === true ? {} : { schemaController: { compilersFactory: lazyCompilersFactory() } }),
    ajv: {
      customOptions: {
        // Refuse what we do not know rather than drop it silently, and no
        // type coercion: "12" is not a percent.
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: false,
        allErrors: false,
        // Lets error messages use a schema's description (e.g. for patterns).
        verbose: true,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.setErrorHandler(adminErrorHandler)
  app.setNotFoundHandler(adminNotFoundHandler)
  // Before auth: a page from another origin (or a rebound DNS name) is refused outright.
  app.addHook('onRequest', createOriginGuard({ loopback: isLoopback(deps.config.admin.host) }))
  app.addHook('onRequest', createAuthHook({ token: deps.config.admin.token, metricsPublic: deps.config.admin.metricsPublic }))
  // A JSON write without a body (`curl -X POST -H 'content-type: application/json' .../rollback`)
  // means "no options"; fastify's own parser refuses an empty JSON body.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') done(null, undefined)
    else void parseJson(req, body as string, done)
  })
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && (req.method === 'POST' || req.method === 'PUT')) req.body = {}
  })

  app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'switchyard admin API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: deps.config.admin.token === undefined ? [] : [{ bearer: [] }],
    },
  })

  app.register(probeRoutes(deps))
  app.register(appsRoutes(deps.apps))
  const clock = deps.clock ?? Date.now
  app.register(
    perAppRoutes(deps.apps, [
      stateRoutes(),
      changeRoutes(),
      cohortRoutes(),
      historyRoutes(),
      explainRoutes(),
      smokeRoutes(),
      rolloutRoutes(),
      mirrorRoutes(),
      healthRoutes(clock),
    ]),
  )
  for (const plugin of opts.plugins ?? []) app.register(plugin)

  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger())
  return app
}
