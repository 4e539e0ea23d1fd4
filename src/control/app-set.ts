import type { AppConfig } from '../config/index.js'
import type { Log } from '../observability/logger.js'
import type { AppMetrics } from '../observability/metrics.js'
import type { Color, State } from '../routing/index.js'
import { AppControl } from './app.js'
import type { AppDirectory } from './admin/apps.js'
import type { InstanceRegistry } from './single-instance.js'
import type { StoreOpener } from './store/open.js'
import type { StateStore } from './store/types.js'
import type { ChangeEvent } from './types.js'

export interface AppSetDeps {
  opener: StoreOpener
  /** epoch ms */
  clock: () => number
  logger: Log & { child(bindings: object): Log }
  /** the fleet's instances; asked whether all applied a version of an app */
  registry: () => InstanceRegistry
  metrics: { app(name: string): AppMetrics; removeApp(name: string): void }
  /** every change of every app (webhooks, events) */
  onChange: (e: ChangeEvent) => void
  /** the data plane's view of an app's targets */
  targets: (app: string) => Record<Color, { url: string; up: boolean }[]> | null
  /** loads an app's state from its store, or seeds it with `initial` (retries, cache: the root decides) */
  loadState: (store: StateStore, app: AppConfig) => Promise<State>
}

/**
 * The apps the router serves, each an {@link AppControl} with its own store.
 * It is the admin API's directory; a reload adds, removes and reconfigures
 * apps here while the others carry on untouched.
 */
export class AppSet implements AppDirectory {
  readonly #deps: AppSetDeps
  #apps = new Map<string, AppControl>()
  #order: readonly AppControl[] = []

  constructor(deps: AppSetDeps) {
    this.#deps = deps
  }

  get(name: string): AppControl | undefined {
    return this.#apps.get(name)
  }

  list(): readonly AppControl[] {
    return this.#order
  }

  /** app → the state version this instance routes it by */
  versions(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const a of this.#order) out[a.name] = a.runtime.state.version
    return out
  }

  /** Opens an app's store, loads its state and builds its control plane (not started). */
  async build(config: AppConfig): Promise<AppControl> {
    const d = this.#deps
    let app: AppControl | undefined
    const store = d.opener.open(config.name, () => app?.runtime.state ?? null)
    try {
      const state = await d.loadState(store, config)
      const logger = d.logger.child({ app: config.name })
      app = new AppControl({
        config,
        store,
        state,
        clock: d.clock,
        logger,
        convergence: { wait: (version: number) => d.registry().wait(version, undefined, config.name) },
        metrics: d.metrics.app(config.name),
        onChange: d.onChange,
        targets: () => d.targets(config.name),
      })
      return app
    } catch (e) {
      await store.close().catch(() => undefined)
      throw e
    }
  }

  /** Serves `apps` in this order from now on (built apps added, absent ones dropped from the list). */
  set(apps: readonly AppControl[]): void {
    this.#apps = new Map(apps.map((a) => [a.name, a]))
    this.#order = Object.freeze(apps.slice())
  }

  /** Stops an app's loops and closes its store; its stored state stays for a later return. */
  async retire(app: AppControl): Promise<void> {
    await app.stop()
    await app.store.close()
    this.#deps.metrics.removeApp(app.name)
  }

  /** Stops every app and closes every store. */
  async close(): Promise<void> {
    const apps = this.#order
    this.set([])
    await Promise.all(apps.map((a) => this.retire(a)))
  }
}
