import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AppConfig, Config } from '../config/index.js'
import type { ShadowRecorder } from '../control/shadow.js'
import type { ErrorWindows } from '../control/windows.js'
import type { InstanceRegistry } from '../control/single-instance.js'
import type { AppsOptions, DataPlane, ListenOptions, TargetHealth } from '../dataplane/index.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import type { Color, State } from '../routing/index.js'
import type { FromWorker, ListenerSpec, ToWorker, WorkerApp } from './messages.js'
import { pairFromWire } from './mirror-relay.js'
import { registerWorkerMetrics } from './worker-metrics.js'

/** `workers` resolved: "auto" is one worker per core the process may use. */
export function workerCount(config: Pick<Config, 'workers'>): number {
  return config.workers === 'auto' ? availableParallelism() : config.workers
}

/**
 * Whether this Node has `reusePort` (22.12+, 23.1+): then each worker binds
 * its own socket and the kernel spreads new connections over them, with no
 * hop through the primary; else node:cluster's shared handle, where the
 * primary accepts and hands each connection to the next worker in turn.
 */
export function hasReusePort(version: string = process.versions.node): boolean {
  const [major, minor] = version.split('.').map(Number)
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12)
}

/** How long a write waits for every worker to apply its version (then `converged: false`). */
const APPLY_TIMEOUT_MS = 5_000
/** A worker that lived this long before it died restarts at once; quicker deaths back off. */
const STABLE_MS = 10_000
const MAX_BACKOFF_MS = 5_000
/** A drained worker that has not exited this long after the grace is killed. */
const EXIT_SLACK_MS = 5_000

/** What the primary needs of an app to feed its workers (AppControl fits). */
export interface ClusterApp {
  readonly name: string
  readonly config: AppConfig
  readonly runtime: { readonly state: State; on(event: 'change', fn: (s: State) => void): unknown }
  readonly windows: ErrorWindows
  /** dark launch: where the workers' copies and answer pairs go (the single process's recorder and metrics) */
  readonly shadow: Pick<ShadowRecorder, 'absorb' | 'answers'>
}

export interface WorkerPlaneOptions {
  count: number
  config: Config
  /** the apps the primary serves now (the AppSet's list, after a reload's swap) */
  apps: () => readonly ClusterApp[]
  metrics: Metrics
  logger: Logger
  /** a worker acknowledged a version (the fleet heartbeat reports what every worker routes by) */
  onApplied?: () => void
}

/** One worker slot: a process, restarted into the same slot when it dies. */
interface Slot {
  index: number
  worker: Worker | null
  /** app → the version this worker acknowledged */
  applied: Map<string, number>
  targets: Record<string, Record<Color, TargetHealth[]>>
  inFlight: number
  /** requests this slot's workers reported, ever */
  requests: number
  startedAt: number
  quickDeaths: number
  /** listener id → resolve, while a listen is pending */
  pending: Map<number, { resolve: (a: { host: string; port: number }) => void; reject: (e: Error) => void }>
  onReady: (() => void) | null
}

/**
 * The data plane of a router with `workers` > 1, as the primary sees it:
 * N worker processes (node:cluster, sharing each listening socket) that
 * route, and this object, which speaks the DataPlane interface to the
 * composition root. It forwards every state change to every worker,
 * answers whether all applied a version (`converged`), adds the workers'
 * batched counts into the apps' error windows and metrics (and their dark
 * launch counts and answer pairs into the apps' shadow recorders), and
 * restarts a worker that dies.
 *
 * Passive target health stays per worker (each has its own pools); `targets`
 * answers from the workers' last reports: a target is up when no worker
 * sees it down.
 */
export class WorkerPlane implements DataPlane {
  readonly #o: WorkerPlaneOptions
  readonly #slots: Slot[] = []
  readonly #listeners: ListenerSpec[] = []
  readonly #subscribed = new WeakSet<object>()
  readonly #waiters = new Set<() => void>()
  #apps: { defaultApp: string | null; limits: Config['limits'] }
  #closing = false
  #restarts = 0

  constructor(o: WorkerPlaneOptions) {
    this.#o = o
    this.#apps = { defaultApp: o.config.defaultApp, limits: o.config.limits }
    const ext = extname(fileURLToPath(import.meta.url))
    cluster.setupPrimary({ exec: fileURLToPath(new URL(`./worker-main${ext}`, import.meta.url)), args: [] })
    this.#subscribe()
    registerWorkerMetrics(o.metrics.registry, {
      live: () => this.#slots.filter((s) => s.worker !== null).length,
      restarts: () => this.#restarts,
      requests: () => this.#slots.map((s) => ({ worker: String(s.index), requests: s.requests })),
      applied: () => this.#appliedVersions(),
    })
    o.logger.info({ workers: o.count, balancing: hasReusePort() ? 'reusePort' : 'cluster' }, 'starting the data-plane workers')
    for (let i = 0; i < o.count; i++) {
      const slot: Slot = {
        index: i,
        worker: null,
        applied: new Map(),
        targets: {},
        inFlight: 0,
        requests: 0,
        startedAt: 0,
        quickDeaths: 0,
        pending: new Map(),
        onReady: null,
      }
      this.#slots.push(slot)
      this.#fork(slot)
    }
  }

  /** Resolves once every worker is up, or rejects when one dies before. */
  async #ready(): Promise<void> {
    await Promise.all(
      this.#slots.map(
        (s) =>
          new Promise<void>((resolve, reject) => {
            if (s.worker !== null && s.onReady === null) return resolve()
            const w = s.worker
            const onExit = (code: number | null): void => reject(new Error(`worker ${s.index} exited with ${code} while starting`))
            w?.once('exit', onExit)
            const prev = s.onReady
            s.onReady = () => {
              w?.off('exit', onExit)
              prev?.()
              resolve()
            }
          }),
      ),
    )
  }

  #workerApps(): WorkerApp[] {
    return this.#o.apps().map((a) => ({ config: a.config, state: a.runtime.state }))
  }

  /** Every app's state changes go to every worker (once per runtime, new apps included). */
  #subscribe(): void {
    for (const a of this.#o.apps()) {
      if (this.#subscribed.has(a.runtime)) continue
      this.#subscribed.add(a.runtime)
      const name = a.name
      a.runtime.on('change', (state: State) => this.#broadcast({ t: 'state', app: name, state }))
    }
  }

  #broadcast(m: ToWorker): void {
    for (const s of this.#slots) if (s.worker !== null && s.worker.isConnected()) s.worker.send(m)
  }

  #fork(slot: Slot): void {
    const w = cluster.fork({ SWITCHYARD_WORKER: String(slot.index) })
    slot.worker = w
    slot.applied = new Map()
    slot.targets = {}
    slot.inFlight = 0
    slot.startedAt = Date.now()
    slot.onReady ??= () => {}
    const init: ToWorker = {
      t: 'init',
      apps: this.#workerApps(),
      ...this.#apps,
      trustForwarded: this.#o.config.headers.trustForwarded,
      accessLog: this.#o.config.log.access,
      logLevel: this.#o.logger.level,
      listeners: this.#listeners.slice(),
    }
    w.on('message', (m: FromWorker) => (m.t === 'hello' ? w.send(init) : this.#onMessage(slot, w, m)))
    w.on('exit', (code, signal) => this.#onExit(slot, w, code, signal))
  }

  #onMessage(slot: Slot, w: Worker, m: FromWorker): void {
    if (slot.worker !== w) return
    switch (m.t) {
      case 'hello':
        return
      case 'ready': {
        for (const [app, v] of Object.entries(m.applied)) slot.applied.set(app, v)
        this.#o.logger.info({ worker: slot.index, workerPid: w.process.pid }, 'worker started')
        const r = slot.onReady
        slot.onReady = null
        r?.()
        this.#settle()
        return
      }
      case 'applied':
        slot.applied.set(m.app, Math.max(slot.applied.get(m.app) ?? 0, m.version))
        this.#settle()
        this.#o.onApplied?.()
        return
      case 'listening':
        slot.pending.get(m.id)?.resolve({ host: m.host, port: m.port })
        slot.pending.delete(m.id)
        return
      case 'listen-failed':
        slot.pending.get(m.id)?.reject(new Error(m.message))
        slot.pending.delete(m.id)
        return
      case 'report':
        this.#absorb(slot, m)
        return
    }
  }

  #absorb(slot: Slot, m: Extract<FromWorker, { t: 'report' }>): void {
    slot.inFlight = m.inFlight
    if (m.targets !== undefined) slot.targets = m.targets
    const apps = this.#o.apps()
    for (const [name, r] of Object.entries(m.apps)) {
      const app = apps.find((a) => a.name === name)
      // An app removed by a reload since: its counts have nowhere to go.
      if (app === undefined) continue
      const [br, be, gr, ge] = r.window
      if (br > 0) app.windows.add('blue', br, be)
      if (gr > 0) app.windows.add('green', gr, ge)
      this.#o.metrics.app(name).absorb(r.tallies)
      slot.requests += br + gr
    }
    if (m.mirror === undefined) return
    for (const [name, r] of Object.entries(m.mirror)) {
      const app = apps.find((a) => a.name === name)
      if (app === undefined) continue
      app.shadow.absorb(r)
      for (const p of r.pairs) app.shadow.answers(pairFromWire(p))
    }
  }

  #onExit(slot: Slot, w: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== w) return
    slot.worker = null
    for (const p of slot.pending.values()) p.reject(new Error(`worker ${slot.index} exited (code ${code}, signal ${signal})`))
    slot.pending.clear()
    this.#settle()
    if (this.#closing) return
    this.#restarts++
    const lived = Date.now() - slot.startedAt
    slot.quickDeaths = lived >= STABLE_MS ? 0 : slot.quickDeaths + 1
    const delay = slot.quickDeaths === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (slot.quickDeaths - 1))
    this.#o.logger.warn({ worker: slot.index, workerPid: w.process.pid, code, signal, restartInMs: delay }, 'worker exited; restarting it')
    setTimeout(() => {
      if (!this.#closing) this.#fork(slot)
    }, delay).unref()
  }

  /** app → the lowest version any live worker applied (the metric and convergence read this). */
  #appliedVersions(): { app: string; worker: string; version: number }[] {
    const out: { app: string; worker: string; version: number }[] = []
    for (const s of this.#slots) {
      if (s.worker === null) continue
      for (const [app, version] of s.applied) out.push({ app, worker: String(s.index), version })
    }
    return out
  }

  /**
   * `primary` (app → version the primary applied) lowered to what every
   * running worker acknowledged: what this instance routes by, for the
   * fleet's registry. A starting worker is not counted (it starts with the
   * current state).
   */
  applied(primary: Record<string, number>): Record<string, number> {
    const out = { ...primary }
    for (const s of this.#slots) {
      if (s.worker === null || s.onReady !== null) continue
      for (const app of Object.keys(out)) out[app] = Math.min(out[app], s.applied.get(app) ?? 0)
    }
    return out
  }

  #settle(): void {
    for (const w of [...this.#waiters]) w()
  }

  /**
   * Whether every live worker applied `version` of `app`, waiting up to
   * `timeoutMs`. A worker that starts later is sent the current state when
   * it starts, so it cannot route by an older one.
   */
  converged(app: string, version: number, timeoutMs = APPLY_TIMEOUT_MS): Promise<boolean> {
    const done = (): boolean => this.#slots.every((s) => s.worker === null || s.onReady !== null || (s.applied.get(app) ?? 0) >= version)
    if (done()) return Promise.resolve(true)
    return new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (!done()) return
        finish(true)
      }
      const timer = setTimeout(() => finish(false), timeoutMs)
      const finish = (ok: boolean): void => {
        clearTimeout(timer)
        this.#waiters.delete(check)
        resolve(ok)
      }
      this.#waiters.add(check)
    })
  }

  /** The fleet's convergence (the Redis registry, or this process alone) joined with the workers'. */
  registry(inner: InstanceRegistry): InstanceRegistry {
    return {
      id: inner.id,
      start: () => inner.start(),
      stop: () => inner.stop(),
      touch: () => inner.touch(),
      list: () => inner.list(),
      wait: async (version, timeoutMs, app) => {
        const [workers, fleet] = await Promise.all([
          app === undefined ? Promise.resolve(true) : this.converged(app, version, timeoutMs),
          inner.wait(version, timeoutMs, app),
        ])
        return workers && fleet
      },
    }
  }

  async listen(host: string, port: number, opts?: ListenOptions): Promise<{ host: string; port: number }> {
    if (this.#closing) throw new Error('the data plane is closing')
    await this.#ready()
    const spec: ListenerSpec = { id: this.#listeners.length, host, port, preview: opts?.preview === true, reusePort: hasReusePort() }
    const one = (s: Slot, l: ListenerSpec): Promise<{ host: string; port: number }> =>
      new Promise((resolve, reject) => {
        if (s.worker === null) return reject(new Error(`worker ${s.index} is not running`))
        s.pending.set(l.id, { resolve, reject })
        s.worker.send({ t: 'listen', listener: l } satisfies ToWorker)
      })
    // The first worker binds (port 0: picks the port), the others join it.
    const first = await one(this.#slots[0], spec)
    // reusePort: the others (and a restarted worker) bind that port. The
    // cluster's shared handle is keyed by the port asked for, so they ask
    // for the same one (0 included) and get the primary's socket.
    const bound: ListenerSpec = spec.reusePort ? { ...spec, port: first.port } : spec
    await Promise.all(this.#slots.slice(1).map((s) => one(s, bound)))
    this.#listeners.push(bound)
    return first
  }

  targets(app: string): Record<Color, TargetHealth[]> | null {
    let out: Record<Color, TargetHealth[]> | null = null
    for (const s of this.#slots) {
      const t = s.targets[app]
      if (t === undefined) continue
      if (out === null) {
        out = { blue: t.blue.map((x) => ({ ...x })), green: t.green.map((x) => ({ ...x })) }
        continue
      }
      for (const c of ['blue', 'green'] as const) {
        for (const x of t[c]) {
          const mine = out[c].find((y) => y.url === x.url)
          if (mine !== undefined && !x.up) mine.up = false
        }
      }
    }
    if (out !== null) return out
    const a = this.#o.apps().find((x) => x.name === app)
    if (a === undefined) return null
    // No report yet: nothing was seen down.
    const all = (c: Color) => a.config.upstreams[c].targets.map((url) => ({ url, up: true }))
    return { blue: all('blue'), green: all('green') }
  }

  setApps(apps: AppsOptions, limits?: Config['limits']): void {
    this.#apps = { defaultApp: apps.defaultApp, limits: limits ?? this.#apps.limits }
    this.#subscribe()
    this.#broadcast({ t: 'apps', apps: this.#workerApps(), ...this.#apps })
  }

  inFlight(): number {
    let n = 0
    for (const s of this.#slots) n += s.inFlight
    return n
  }

  /** Tells every worker to drain (stop accepting, finish requests for up to `graceMs`) and waits for them to exit. */
  async close(graceMs: number): Promise<void> {
    this.#closing = true
    await Promise.all(
      this.#slots.map(async (s) => {
        const w = s.worker
        if (w === null) return
        const exited = new Promise<void>((r) => w.once('exit', () => r()))
        if (w.isConnected()) w.send({ t: 'drain', graceMs } satisfies ToWorker)
        else w.kill('SIGKILL')
        const timer = setTimeout(() => w.process.kill('SIGKILL'), graceMs + EXIT_SLACK_MS)
        await exited
        clearTimeout(timer)
      }),
    )
  }
}
