import type { AppConfig } from '../config/index.js'
import { routingOptions } from '../control/app.js'
import { Runtime } from '../control/runtime.js'
import { createDataPlane, type AccessLogEntry, type AppPlaneOptions, type AppsOptions, type DataPlane } from '../dataplane/index.js'
import { createLogger, type Logger } from '../observability/logger.js'
import { MirrorRelay, type MirrorReport } from './mirror-relay.js'
import { REPORT_MS, type AppReport, type FromWorker, type ListenerSpec, type ToWorker, type WorkerApp } from './messages.js'
import { AppTally } from './tally.js'

/**
 * A worker process (`workers` > 1): only the data plane. Its routing tables
 * come from the primary over IPC (compiled here, with the same `compile` as
 * the primary's Runtime), its counts go back in one batch every REPORT_MS,
 * with the dark launch's counts and a bounded number of answer pairs.
 * It has no store, no admin API and no watch loops.
 *
 * Signals: a worker ignores SIGTERM, SIGINT and SIGHUP, which a terminal or
 * a service manager may send to the whole process group; the primary drains
 * its workers itself. A worker whose primary is gone (IPC closed) drains
 * and exits.
 */
class Worker {
  readonly #send: (m: FromWorker, done?: () => void) => void
  #logger: Logger | undefined
  #plane: DataPlane | undefined
  /** per app: the table holder the data plane reads, and the tally it reports to */
  #runtimes = new Map<string, Runtime>()
  #tallies = new Map<string, AppTally>()
  /** per app: the dark launch's copies and answers until the next report */
  #relays = new Map<string, MirrorRelay>()
  #lastTargets = ''
  #timer: NodeJS.Timeout | undefined
  #draining: Promise<void> | undefined

  constructor(send: (m: FromWorker, done?: () => void) => void) {
    this.#send = send
  }

  onMessage(m: ToWorker): void {
    switch (m.t) {
      case 'init':
        void this.#init(m)
        return
      case 'state': {
        const r = this.#runtimes.get(m.app)
        if (r === undefined) return
        r.apply(m.state)
        this.#send({ t: 'applied', app: m.app, version: r.state.version })
        return
      }
      case 'apps':
        this.#plane?.setApps(this.#appsOptions(m.apps, m.defaultApp), m.limits)
        for (const a of m.apps)
          this.#send({ t: 'applied', app: a.config.name, version: this.#runtimes.get(a.config.name)?.state.version ?? 0 })
        return
      case 'listen':
        void this.#listen(m.listener)
        return
      case 'drain':
        void this.drain(m.graceMs)
        return
    }
  }

  async #init(m: Extract<ToWorker, { t: 'init' }>): Promise<void> {
    const logger = createLogger(m.logLevel).child({ component: 'worker', worker: process.env.SWITCHYARD_WORKER ?? null })
    this.#logger = logger
    const access = logger.child({ component: 'access' })
    this.#plane = createDataPlane({
      ...this.#appsOptions(m.apps, m.defaultApp),
      limits: m.limits,
      trustForwarded: m.trustForwarded,
      accessLog: m.accessLog ? (e: AccessLogEntry) => access.info(e, 'request') : undefined,
      logger: logger.child({ component: 'dataplane' }),
    })
    for (const l of m.listeners) {
      if (!(await this.#listen(l))) {
        // A restarted worker that cannot listen routes nothing: exit, and the primary retries with backoff.
        logger.error({ listener: l }, 'worker cannot listen; exiting')
        process.exit(1)
      }
    }
    const applied: Record<string, number> = {}
    for (const [name, r] of this.#runtimes) applied[name] = r.state.version
    this.#send({ t: 'ready', applied })
    this.#timer = setInterval(() => this.#report(), REPORT_MS)
  }

  /** The data plane's apps; a known app keeps its table holder, tally and mirror relay (a reload). */
  #appsOptions(apps: readonly WorkerApp[], defaultApp: string | null): AppsOptions {
    const runtimes = new Map<string, Runtime>()
    const tallies = new Map<string, AppTally>()
    const relays = new Map<string, MirrorRelay>()
    const list: AppPlaneOptions[] = []
    for (const { config, state } of apps) {
      let r = this.#runtimes.get(config.name)
      if (r === undefined) r = new Runtime(state, routingOptions(config))
      else {
        r.reconfigure(routingOptions(config))
        r.apply(state)
      }
      const t = this.#tallies.get(config.name) ?? new AppTally()
      const m = this.#relays.get(config.name) ?? new MirrorRelay()
      runtimes.set(config.name, r)
      tallies.set(config.name, t)
      relays.set(config.name, m)
      list.push(planeOptions(config, r, t, m))
    }
    this.#runtimes = runtimes
    this.#tallies = tallies
    this.#relays = relays
    return { apps: list, defaultApp }
  }

  /** Starts a listener and tells the primary; false when it failed. */
  async #listen(l: ListenerSpec): Promise<boolean> {
    const plane = this.#plane
    if (plane === undefined) return false
    try {
      const a = await plane.listen(l.host, l.port, { preview: l.preview, reusePort: l.reusePort })
      this.#send({ t: 'listening', id: l.id, host: a.host, port: a.port })
      return true
    } catch (e) {
      this.#send({ t: 'listen-failed', id: l.id, message: (e as Error).message })
      return false
    }
  }

  /** Sends the counts since the last report (and the targets' health when it changed). */
  #report(done?: () => void): void {
    const apps: Record<string, AppReport> = {}
    let any = false
    for (const [name, t] of this.#tallies) {
      const r = t.take()
      if (r !== null) {
        apps[name] = r
        any = true
      }
    }
    let mirror: Record<string, MirrorReport> | undefined
    for (const [name, m] of this.#relays) {
      const r = m.take()
      if (r !== null) {
        mirror ??= {}
        mirror[name] = r
        any = true
      }
    }
    const plane = this.#plane
    const targets: Record<string, ReturnType<DataPlane['targets']> & {}> = {}
    if (plane !== undefined) {
      for (const name of this.#tallies.keys()) {
        const t = plane.targets(name)
        if (t !== null) targets[name] = t
      }
    }
    const json = JSON.stringify(targets)
    const changed = json !== this.#lastTargets
    this.#lastTargets = json
    if (!any && !changed && done === undefined) return
    this.#send({ t: 'report', apps, mirror, targets: changed ? targets : undefined, inFlight: plane?.inFlight() ?? 0 }, done)
  }

  /** Stops accepting, lets requests finish for up to `graceMs`, reports the last counts, exits 0. */
  drain(graceMs: number): Promise<void> {
    this.#draining ??= (async () => {
      await this.#plane?.close(graceMs)
      clearInterval(this.#timer)
      // The last counts go to the primary; a channel that never confirms must not keep the worker alive.
      await new Promise<void>((resolve) => {
        const bound = setTimeout(resolve, LAST_REPORT_MS)
        bound.unref()
        if (process.connected) this.#report(resolve)
        else resolve()
      })
      this.#logger?.info('worker drained')
      process.exit(0)
    })()
    return this.#draining
  }
}

function planeOptions(c: AppConfig, source: Runtime, observer: AppTally, mirror: MirrorRelay): AppPlaneOptions {
  return {
    name: c.name,
    hosts: c.hosts,
    upstreams: c.upstreams,
    timeouts: c.timeouts,
    exposeColor: c.headers.exposeColor,
    trustForwarded: c.headers.trustForwarded,
    source,
    observer,
    mirror: { settings: c.mirror, observer: mirror },
    healthCheck: c.healthCheck,
  }
}

/** Runs this process as a worker until the primary tells it to drain (or goes away). */
/** How long a draining worker waits for its last report to be sent. */
const LAST_REPORT_MS = 2000

export function runWorker(): void {
  if (process.send === undefined) throw new Error('a switchyard worker must be started by the primary (node:cluster)')
  const send = process.send.bind(process)
  const worker = new Worker((m, done) => {
    if (!process.connected) return done?.()
    send(m, undefined, undefined, done === undefined ? undefined : () => done())
  })
  process.on('message', (m: ToWorker) => worker.onMessage(m))
  // Not on 'online': that fires before this module ran, and a message with no listener is dropped.
  send({ t: 'hello' } satisfies FromWorker)
  // The primary is gone: nobody would drain or restart this worker.
  process.on('disconnect', () => void worker.drain(1000))
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(s, () => {})
}
