import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import type { Redis } from 'ioredis'
import { loadConfig, type AppConfig, type Config } from './config/index.js'
import { createAdminApp, type AdminPlugin } from './control/admin/index.js'
import { eventsRoutes } from './control/admin/routes/events.js'
import { instancesRoutes } from './control/admin/routes/instances.js'
import { metricsRoutes } from './control/admin/routes/metrics.js'
import { reloadRoutes } from './control/admin/routes/reload.js'
import { uiRoutes } from './control/admin/routes/ui.js'
import { EventHub } from './control/events/index.js'
import type { AppControl } from './control/app.js'
import { AppSet } from './control/app-set.js'
import { singleInstance, type InstanceRegistry } from './control/single-instance.js'
import { createNotifier, type Notifier } from './control/notify.js'
import { diffConfigs, type ReloadResult } from './control/reload.js'
import { loadOrInit } from './control/service.js'
import { StateCache } from './control/state-cache.js'
import { appFilePath, storeOpener } from './control/store/open.js'
import type { StateStore } from './control/store/index.js'
import type { ChangeEvent } from './control/types.js'
import { createDataPlane, type AccessLogEntry, type AppPlaneOptions, type DataPlane } from './dataplane/index.js'
import type { State } from './routing/index.js'
import { SwitchyardError, isSwitchyardError } from './errors.js'
import { createLogger, type Logger } from './observability/logger.js'
import { createMetrics, type Metrics } from './observability/metrics.js'
import { registerFleetMetrics } from './observability/fleet-metrics.js'
import { WorkerPlane, workerCount } from './cluster/primary.js'
import { registerTargetMetrics } from './observability/target-metrics.js'

/**
 * The composition root: config in, a running router out. Everything is built
 * here and injected; nothing below reaches for a global.
 *
 * ```
 *                  ┌─ AppSet: per app ─ store ─ Runtime (compiled table) ◄─ StateService ◄─ admin API
 *                  │                      watch windows, auto-revert, rollouts, smoke
 *   clients ─► data plane: Host → app ─► app's table ─► app's undici pools ─► blue / green
 *                  └─ per-app observer ─► error windows, metrics{app}
 * ```
 */

export interface RouterDeps {
  clock?: () => number
  logger?: Logger
  /** instance id (Redis registry); default: host-pid-random */
  instanceId?: string
  /** the config file, re-read by a reload (SIGHUP, POST /v1/reload); absent: reload refused */
  configPath?: string
  /** environment for the reload's overrides (default process.env) */
  env?: NodeJS.ProcessEnv
}

export interface RunningRouter {
  readonly proxyUrl: string
  readonly previewUrl: string | null
  readonly adminUrl: string
  readonly logger: Logger
  /** re-reads the config file and applies it; CONFIG_INVALID (nothing changed) when it is not valid */
  reload(): Promise<ReloadResult>
  /** stop accepting, drain in-flight requests up to shutdownGraceSeconds, close everything */
  close(): Promise<void>
}

export { routingOptions } from './control/app.js'

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

function urlOf(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  return `http://${h}:${port}`
}

/**
 * Loads the state, or seeds the store with the initial one. A Redis that is
 * down at start is retried for a while: an instance cannot route before it
 * knows the state.
 */
async function loadState(store: StateStore, app: AppConfig, clock: () => number, logger: Logger, cache: StateCache | null): Promise<State> {
  // With a local copy of the state, a Redis outage costs the start a few
  // seconds, not the start itself.
  const waitMs = store.kind !== 'redis' ? 0 : cache !== null ? 3_000 : 30_000
  const deadline = clock() + waitMs
  for (let attempt = 1; ; attempt++) {
    try {
      return await loadOrInit(store, app.initial.live, clock, app.mirror.percent)
    } catch (e) {
      if (clock() >= deadline) {
        const cached = cache !== null && isSwitchyardError(e) && e.code === 'STORE_UNAVAILABLE' ? await cache.read() : null
        if (cached === null) throw e
        logger.warn(
          { app: app.name, err: (e as Error).message, version: cached.version, live: cached.live },
          'state store unreachable: routing by the cached state until it is back',
        )
        return cached
      }
      logger.warn({ app: app.name, err: (e as Error).message, attempt }, 'state store not reachable yet; retrying')
      await new Promise((r) => setTimeout(r, Math.min(2000, 200 * attempt)))
    }
  }
}

/** `log.access`: one JSON line per proxied request, through the process logger. */
function accessLogger(logger: Logger): (e: AccessLogEntry) => void {
  const access = logger.child({ component: 'access' })
  return (e) => access.info(e, 'request')
}

/** What the data plane needs of an app. */
function planeOptions(app: AppControl): AppPlaneOptions {
  const c = app.config
  return {
    name: app.name,
    hosts: c.hosts,
    upstreams: c.upstreams,
    timeouts: c.timeouts,
    exposeColor: c.headers.exposeColor,
    trustForwarded: c.headers.trustForwarded,
    source: app.runtime,
    observer: app.observer,
    mirror: { settings: c.mirror, observer: app.shadow },
    healthCheck: c.healthCheck,
  }
}

/** Builds and starts a router from a validated config. */
export async function startRouter(config: Config, deps: RouterDeps = {}): Promise<RunningRouter> {
  const clock = deps.clock ?? Date.now
  const logger = deps.logger ?? createLogger(config.log.level)
  const instanceId = deps.instanceId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`
  const cleanups: (() => Promise<void> | void)[] = []
  let dataPlane: DataPlane | undefined
  let current = config
  try {
    const opener = await storeOpener(config, { instanceId, logger: logger.child({ component: `${config.store.type}-store` }) })
    cleanups.push(() => opener.close())
    const metrics: Metrics = createMetrics({ version: packageVersion() })
    let notifier: Notifier = newNotifier(config, logger)
    const caches = new Map<string, StateCache>()
    let events: EventHub | undefined
    const onChange = (e: ChangeEvent): void => {
      notifier.onChange(e)
      events?.onChange(e)
      caches.get(e.app)?.write(e.state)
    }
    let registry: InstanceRegistry | undefined
    const apps: AppSet = new AppSet({
      opener,
      clock,
      logger: logger.child({ component: 'watch' }),
      registry: () => registry as InstanceRegistry,
      metrics,
      onChange,
      targets: (name) => dataPlane?.targets(name) ?? null,
      loadState: async (store, app) => {
        const s = current.store
        // With a local copy of each app's state, a Redis outage costs the start a few seconds, not the start.
        let cache: StateCache | null = null
        if (s.type === 'redis' && s.cachePath !== undefined) {
          cache =
            caches.get(app.name) ??
            new StateCache(appFilePath(s.cachePath, app.name), logger.child({ component: 'state-cache', app: app.name }))
          caches.set(app.name, cache)
        }
        const state = await loadState(store, app, clock, logger, cache)
        cache?.write(state)
        return state
      },
    })
    cleanups.push(async () => {
      await apps.close()
      await Promise.all([...caches.values()].map((c) => c.flushed()))
    })
    // Apps load one after another: with Redis down each may wait for it.
    const built: AppControl[] = []
    for (const a of config.apps) built.push(await apps.build(a))
    apps.set(built)

    let workerPlane: WorkerPlane | undefined
    /** app → version this instance routes by (with workers: the lowest any worker acknowledged) */
    const versions = (): Record<string, number> => workerPlane?.applied(apps.versions()) ?? apps.versions()
    /** The version of the only app, else the default app's, else the first's (see InstanceInfo). */
    const headline = (): number => {
      const list = apps.list()
      const a = apps.get(current.defaultApp ?? '') ?? list[0]
      return a === undefined ? 0 : (versions()[a.name] ?? 0)
    }
    // Who else routes: the Redis registry of instances, or just this process.
    const reg: InstanceRegistry =
      opener.kind === 'redis'
        ? (await import('./control/instances.js')).createInstanceRegistry({
            redis: { client: opener.redis as Redis },
            prefix: config.store.type === 'redis' ? config.store.prefix : 'switchyard',
            id: instanceId,
            appliedVersion: headline,
            apps: versions,
            clock,
            logger: logger.child({ component: 'instances' }),
          })
        : singleInstance(instanceId, headline, clock, undefined, undefined, versions)
    registry = reg
    await reg.start()
    cleanups.push(() => reg.stop())
    const touch = (): void => reg.touch()
    for (const a of apps.list()) a.runtime.on('change', touch)
    registerFleetMetrics(metrics.registry, { storeUp: () => apps.list().every((a) => a.store.reachable()), instances: () => reg.list() })
    cleanups.push(() => notifier.close())

    // workers > 1: this process keeps the control plane, worker processes route (src/cluster).
    const workers = workerCount(config)
    if (workers > 1) {
      const plane = new WorkerPlane({
        count: workers,
        config,
        apps: () => apps.list(),
        metrics,
        logger: logger.child({ component: 'cluster' }),
        onApplied: touch,
      })
      registry = plane.registry(reg)
      dataPlane = workerPlane = plane
    } else {
      dataPlane = createDataPlane({
        apps: apps.list().map(planeOptions),
        defaultApp: config.defaultApp,
        limits: config.limits,
        trustForwarded: config.headers.trustForwarded,
        accessLog: config.log.access ? accessLogger(logger) : undefined,
        logger: logger.child({ component: 'dataplane' }),
      })
    }
    const dp = dataPlane
    registerTargetMetrics(metrics.registry, () => apps.list().map((a) => ({ app: a.name, colors: dp.targets(a.name) })))

    let reloading: Promise<ReloadResult> | null = null
    /** Re-reads the file and applies it; one reload at a time. */
    const reload = (): Promise<ReloadResult> => {
      const run = async (): Promise<ReloadResult> => {
        if (deps.configPath === undefined)
          throw new SwitchyardError('CONFIG_INVALID', 'this router was not started from a config file; nothing to reload')
        const next = loadConfig(deps.configPath, deps.env ?? process.env)
        const diff = diffConfigs(current, next)
        // Build what is new first: if an app's store cannot be opened, nothing changes.
        const fresh = new Map<string, AppControl>()
        try {
          for (const name of diff.added) {
            const a = await apps.build(next.apps.find((x) => x.name === name) as AppConfig)
            fresh.set(name, a)
          }
        } catch (e) {
          await Promise.all([...fresh.values()].map((a) => apps.retire(a)))
          throw e
        }
        for (const name of diff.changed) await apps.get(name)?.reconfigure(next.apps.find((x) => x.name === name) as AppConfig)
        const gone = diff.removed.map((n) => apps.get(n)).filter((a): a is AppControl => a !== undefined)
        const list = next.apps.map((c) => fresh.get(c.name) ?? (apps.get(c.name) as AppControl))
        // One swap each: the admin directory, then the data plane's host table.
        apps.set(list)
        dp.setApps({ apps: list.map(planeOptions), defaultApp: next.defaultApp }, next.limits)
        for (const a of fresh.values()) {
          a.runtime.on('change', touch)
          a.start()
        }
        reg.touch()
        for (const a of gone) await apps.retire(a)
        for (const a of gone) caches.delete(a.name)
        if (!isDeepStrictEqual(current.notify, next.notify)) {
          const old = notifier
          notifier = newNotifier(next, logger)
          void old.close()
        }
        logger.level = next.log.level
        current = next
        logger.info(diff, 'config reloaded')
        return diff
      }
      const p = (reloading ?? Promise.resolve()).then(run, run)
      reloading = p.catch(() => ({ added: [], removed: [], changed: [], needsRestart: [] }))
      return p
    }

    const hub = new EventHub({
      apps: () => apps.list(),
      tallies: (name) => metrics.app(name).snapshot(),
      logger: logger.child({ component: 'events' }),
    })
    events = hub
    cleanups.push(() => hub.close())
    const plugins: AdminPlugin[] = [
      instancesRoutes({ registry: reg }),
      eventsRoutes(hub),
      uiRoutes(),
      metricsRoutes({ registry: metrics.registry }),
      reloadRoutes({ reload }),
    ]
    const admin = createAdminApp({ apps, config, clock }, { plugins, logger: logger.child({ component: 'admin' }) })
    cleanups.push(() => admin.close())

    const proxy = await dp.listen(config.listen.host, config.listen.port)
    const preview = config.preview ? await dp.listen(config.preview.host, config.preview.port, { preview: true }) : null
    await admin.listen({ host: config.admin.host, port: config.admin.port })
    const adminAddr = admin.server.address()
    const adminPort = typeof adminAddr === 'object' && adminAddr !== null ? adminAddr.port : config.admin.port

    const proxyUrl = urlOf(proxy.host, proxy.port)
    const previewUrl = preview ? urlOf(preview.host, preview.port) : null
    const adminUrl = urlOf(config.admin.host, adminPort)
    for (const a of apps.list()) a.start()
    const summary = apps.list().map((a) => ({ app: a.name, live: a.runtime.state.live, version: a.runtime.state.version }))
    logger.info(
      {
        proxy: proxyUrl,
        preview: previewUrl,
        admin: adminUrl,
        apps: summary,
        live: summary[0]?.live,
        version: summary[0]?.version,
        instance: instanceId,
        store: config.store.type,
        workers,
      },
      'switchyard started',
    )

    let closing: Promise<void> | undefined
    return {
      proxyUrl,
      previewUrl,
      adminUrl,
      logger,
      reload,
      close() {
        closing ??= (async () => {
          const graceMs = current.shutdownGraceSeconds * 1000
          // The data plane first: it stops accepting and drains; the admin
          // API and the stores stay up until the last request is done.
          await dp.close(graceMs)
          await reloading
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

function newNotifier(config: Config, logger: Logger): Notifier {
  return createNotifier({
    webhooks: config.notify.webhooks,
    timeoutMs: config.notify.timeoutMs,
    retries: config.notify.retries,
    logger: logger.child({ component: 'notify' }),
  })
}

export { isSwitchyardError }
