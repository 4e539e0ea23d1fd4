import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import type { Config } from './config/index.js'
import { createAdminApp, type AdminPlugin } from './control/admin/index.js'
import { healthRoutes } from './control/admin/routes/health.js'
import { instancesRoutes } from './control/admin/routes/instances.js'
import { metricsRoutes } from './control/admin/routes/metrics.js'
import { rolloutRoutes } from './control/admin/routes/rollout.js'
import { smokeRoutes } from './control/admin/routes/smoke.js'
import { AutoRevert } from './control/auto-revert.js'
import { singleInstance, type InstanceRegistry } from './control/single-instance.js'
import { createNotifier } from './control/notify.js'
import { RolloutController } from './control/rollout.js'
import { Runtime } from './control/runtime.js'
import { StateService, loadOrInit } from './control/service.js'
import { createSmokeRunner } from './control/smoke.js'
import { createFileStore, type StateStore } from './control/store/index.js'
import { StateCache } from './control/state-cache.js'
import { ErrorWindows } from './control/windows.js'
import { createDataPlane, type AccessLogEntry, type DataPlane } from './dataplane/index.js'
import type { RoutingOptions, State } from './routing/index.js'
import { isSwitchyardError } from './errors.js'
import { createLogger, type Logger } from './observability/logger.js'
import { combineObservers, createMetrics } from './observability/metrics.js'
import { registerFleetMetrics } from './observability/fleet-metrics.js'

/**
 * The composition root: config in, a running router out. Everything is built
 * here and injected; nothing below reaches for a global.
 *
 * ```
 *   config ─► store ─► state ─► Runtime (compiled table) ◄── StateService ◄── admin API
 *                                  │ table (one read per request)
 *   clients ─► data plane ─────────┘──► undici pools ─► blue / green
 *                  └─ observer ─► error windows, metrics
 * ```
 */

export interface RouterDeps {
  clock?: () => number
  logger?: Logger
  /** instance id (Redis registry); default: host-pid-random */
  instanceId?: string
}

export interface RunningRouter {
  readonly proxyUrl: string
  readonly previewUrl: string | null
  readonly adminUrl: string
  readonly logger: Logger
  /** stop accepting, drain in-flight requests up to shutdownGraceSeconds, close everything */
  close(): Promise<void>
}

/** The routing settings of the config (not part of the state). */
export function routingOptions(config: Config): RoutingOptions {
  return {
    stickiness: { header: config.stickiness.header ?? null, cookie: config.stickiness.cookie ?? null },
    overrides: { enabled: config.overrides.enabled, secret: config.overrides.secret ?? null },
  }
}

function urlOf(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  return `http://${h}:${port}`
}

function redisConnection(config: Config) {
  const s = config.store
  if (s.type !== 'redis') throw new Error('not a redis store')
  return { url: s.url, sentinels: s.sentinels, name: s.name }
}

// ioredis is loaded only when the store is Redis: a file-store router keeps
// that memory (about 20 MB of RSS) to itself.
async function openStore(config: Config, logger: Logger, instanceId: string, getLocal: () => State | null): Promise<StateStore> {
  if (config.store.type === 'file') return createFileStore({ path: config.store.path })
  const { createRedisStore } = await import('./control/store/redis-store.js')
  return createRedisStore({
    ...redisConnection(config),
    prefix: config.store.prefix,
    instanceId,
    logger: logger.child({ component: 'redis-store' }),
    getLocalState: getLocal,
  })
}

/**
 * Loads the state, or seeds the store with the initial one. A Redis that is
 * down at start is retried for a while: an instance cannot route before it
 * knows the state.
 */
async function loadState(
  store: StateStore,
  config: Config,
  clock: () => number,
  logger: Logger,
  cache: StateCache | null,
): Promise<State> {
  // With a local copy of the state, a Redis outage costs the start a few
  // seconds, not the start itself.
  const waitMs = store.kind !== 'redis' ? 0 : cache !== null ? 3_000 : 30_000
  const deadline = clock() + waitMs
  for (let attempt = 1; ; attempt++) {
    try {
      return await loadOrInit(store, config.initial.live, clock)
    } catch (e) {
      if (clock() >= deadline) {
        const cached = cache !== null && isSwitchyardError(e) && e.code === 'STORE_UNAVAILABLE' ? await cache.read() : null
        if (cached === null) throw e
        logger.warn(
          { err: (e as Error).message, version: cached.version, live: cached.live },
          'state store unreachable: routing by the cached state until it is back',
        )
        return cached
      }
      logger.warn({ err: (e as Error).message, attempt }, 'state store not reachable yet; retrying')
      await new Promise((r) => setTimeout(r, Math.min(2000, 200 * attempt)))
    }
  }
}

/** `log.access`: one JSON line per proxied request, through the process logger. */
function accessLogger(logger: Logger): (e: AccessLogEntry) => void {
  const access = logger.child({ component: 'access' })
  return (e) => access.info(e, 'request')
}

/** Builds and starts a router from a validated config. */
export async function startRouter(config: Config, deps: RouterDeps = {}): Promise<RunningRouter> {
  const clock = deps.clock ?? Date.now
  const logger = deps.logger ?? createLogger(config.log.level)
  const instanceId = deps.instanceId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`
  let runtime: Runtime | undefined
  const store = await openStore(config, logger, instanceId, () => runtime?.state ?? null)
  const cleanups: (() => Promise<void> | void)[] = [() => store.close()]
  let dataPlane: DataPlane | undefined
  try {
    const cache =
      config.store.type === 'redis' && config.store.cachePath !== undefined
        ? new StateCache(config.store.cachePath, logger.child({ component: 'state-cache' }))
        : null
    const state = await loadState(store, config, clock, logger, cache)
    const rt = new Runtime(state, routingOptions(config))
    runtime = rt
    if (cache !== null) {
      cache.write(state)
      rt.on('change', (s: State) => cache.write(s))
      cleanups.push(() => cache.flushed())
    }

    // Who else routes: the Redis registry of instances, or just this process.
    const registry: InstanceRegistry =
      config.store.type === 'redis'
        ? (await import('./control/instances.js')).createInstanceRegistry({
            redis: redisConnection(config),
            prefix: config.store.prefix,
            id: instanceId,
            appliedVersion: () => rt.state.version,
            clock,
            logger: logger.child({ component: 'instances' }),
          })
        : singleInstance(instanceId, () => rt.state.version, clock)
    await registry.start()
    cleanups.push(() => registry.stop())
    rt.on('change', () => registry.touch())

    const smoke = createSmokeRunner({ checks: config.smoke.checks, upstreams: config.upstreams })
    cleanups.push(() => smoke.close())
    const service = new StateService({ store, runtime: rt, clock, smoke, convergence: registry, logger })

    // Watching: error windows fed by the data plane, metrics, webhooks.
    const windows = new ErrorWindows({ windowSeconds: config.autoRevert.windowSeconds, now: clock })
    const metrics = createMetrics({ state })
    registerFleetMetrics(metrics.registry, { storeUp: () => store.reachable(), instances: () => registry.list() })
    const notifier = createNotifier({
      webhooks: config.notify.webhooks,
      timeoutMs: config.notify.timeoutMs,
      retries: config.notify.retries,
      logger: logger.child({ component: 'notify' }),
    })
    service.on('change', windows.onChange)
    service.on('change', metrics.onChange)
    service.on('change', notifier.onChange)
    cleanups.push(() => notifier.close())

    const thresholds = { maxErrorRate: config.autoRevert.maxErrorRate, minRequests: config.autoRevert.minRequests }
    const watchLogger = logger.child({ component: 'watch' })
    const autoRevert = new AutoRevert({ service, windows, settings: config.autoRevert, clock, logger: watchLogger })
    const rollouts = new RolloutController({ service, windows, thresholds, clock, logger: watchLogger, smoke })

    dataPlane = createDataPlane({
      upstreams: config.upstreams,
      timeouts: config.timeouts,
      limits: config.limits,
      exposeColor: config.headers.exposeColor,
      trustForwarded: config.headers.trustForwarded,
      source: rt,
      observer: combineObservers(windows, metrics.observer),
      accessLog: config.log.access ? accessLogger(logger) : undefined,
      logger: logger.child({ component: 'dataplane' }),
    })
    const dp = dataPlane
    const plugins: AdminPlugin[] = [
      smokeRoutes({ smoke, service }),
      rolloutRoutes({ rollouts }),
      healthRoutes({ service, windows, targets: () => dp.targets(), settings: config.autoRevert, clock }),
      instancesRoutes({ registry }),
      metricsRoutes({ registry: metrics.registry }),
    ]
    const admin = createAdminApp({ service, runtime: rt, store, config }, { plugins, logger: logger.child({ component: 'admin' }) })
    cleanups.push(() => admin.close())

    const proxy = await dp.listen(config.listen.host, config.listen.port)
    const preview = config.preview ? await dp.listen(config.preview.host, config.preview.port, { preview: true }) : null
    await admin.listen({ host: config.admin.host, port: config.admin.port })
    const adminAddr = admin.server.address()
    const adminPort = typeof adminAddr === 'object' && adminAddr !== null ? adminAddr.port : config.admin.port

    const proxyUrl = urlOf(proxy.host, proxy.port)
    const previewUrl = preview ? urlOf(preview.host, preview.port) : null
    const adminUrl = urlOf(config.admin.host, adminPort)
    if (config.autoRevert.enabled) autoRevert.start()
    rollouts.start()
    cleanups.push(() => rollouts.stop(), () => autoRevert.stop())
    logger.info({ proxy: proxyUrl, preview: previewUrl, admin: adminUrl, live: rt.state.live, version: rt.state.version, instance: instanceId, store: config.store.type }, 'switchyard started')

    let closing: Promise<void> | undefined
    return {
      proxyUrl,
      previewUrl,
      adminUrl,
      logger,
      close() {
        closing ??= (async () => {
          const graceMs = config.shutdownGraceSeconds * 1000
          // The data plane first: it stops accepting and drains; the admin
          // API and the store stay up until the last request is done.
          await dp.close(graceMs)
          for (const c of cleanups.reverse()) {
            try {
              await c()
            } catch (e) {
              logger.warn({ err: e }, 'error while closing')
            }
          }
        })()
        return closing
      },
    }
  } catch (e) {
    await dataPlane?.close(0).catch(() => {})
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {})
    throw e
  }
}
