import type { AppConfig } from '../config/index.js'
import type { RequestObserver } from '../dataplane/index.js'
import type { AppMetrics } from '../observability/metrics.js'
import type { Color, RoutingOptions, State } from '../routing/index.js'
import { AutoRevert, type WatchLogger, type WindowSource } from './auto-revert.js'
import { RolloutController } from './rollout-controller.js'
import { Runtime } from './runtime.js'
import { StateService, type ServiceLogger } from './service.js'
import { ShadowRecorder } from './shadow.js'
import { createSmokeRunner, type SmokeRunner } from './smoke.js'
import type { StateStore } from './store/types.js'
import type { ChangeEvent, Convergence, SmokeGate, SmokeReport } from './types.js'
import { ErrorWindows } from './windows.js'

/** The routing settings of an app's config (not part of the state). */
export function routingOptions(app: Pick<AppConfig, 'stickiness' | 'overrides'> & Partial<Pick<AppConfig, 'mirror'>>): RoutingOptions {
  return {
    stickiness: { header: app.stickiness.header ?? null, cookie: app.stickiness.cookie ?? null },
    overrides: { enabled: app.overrides.enabled, secret: app.overrides.secret ?? null },
    ...(app.mirror !== undefined ? { mirror: { percent: app.mirror.percent, methods: app.mirror.methods } } : {}),
  }
}

export interface AppControlDeps {
  config: AppConfig
  /** this app's store (its own file, or its own Redis keys) */
  store: StateStore
  /** the state loaded from the store */
  state: State
  /** epoch ms */
  clock: () => number
  logger: ServiceLogger & WatchLogger
  /** whether every instance applied a version of this app */
  convergence: Convergence
  metrics: AppMetrics
  /** other listeners of every change (webhooks, events) */
  onChange: (e: ChangeEvent) => void
  /** each color's targets and whether the data plane sees them up */
  targets: () => Record<Color, { url: string; up: boolean }[]> | null
}

/**
 * Everything that is per app in the control plane: the state (runtime,
 * store, state service), the watch windows, auto-revert, the rollout
 * controller and the smoke checks. One app's breach, rollout or write never
 * touches another's, because nothing here is shared.
 *
 * `reconfigure` applies a reloaded config: routing settings are recompiled
 * into the table, the smoke checks and thresholds replaced, the watch loops
 * restarted; the state, its store and the windows' counts carry on (the
 * windows restart only when their width changes).
 */
export class AppControl {
  readonly name: string
  readonly store: StateStore
  readonly runtime: Runtime
  readonly service: StateService
  /** the data plane's sink for this app's requests (windows + metrics) */
  readonly observer: RequestObserver
  /** dark launch: the data plane's mirror sink, the shadow diff counters and the flip gate's verdict */
  readonly shadow: ShadowRecorder
  readonly #deps: AppControlDeps
  #config: AppConfig
  #windows: ErrorWindows
  #smoke: SmokeRunner
  #autoRevert: AutoRevert
  #rollouts: RolloutController
  #started = false

  constructor(deps: AppControlDeps) {
    this.#deps = deps
    this.name = deps.config.name
    this.#config = deps.config
    this.store = deps.store
    this.runtime = new Runtime(deps.state, routingOptions(deps.config))
    this.#smoke = this.#newSmoke(deps.config)
    this.shadow = new ShadowRecorder({
      settings: deps.config.mirror,
      clock: deps.clock,
      live: () => this.runtime.state.live,
      tally: deps.metrics.mirror,
    })
    // The service and the controllers hold this gate, so a reload can swap the checks behind it.
    const gate: SmokeGate = { run: (c: Color): Promise<SmokeReport> => this.#smoke.run(c) }
    this.service = new StateService({
      app: this.name,
      store: deps.store,
      runtime: this.runtime,
      clock: deps.clock,
      smoke: gate,
      shadow: this.shadow,
      convergence: deps.convergence,
      logger: deps.logger,
    })
    this.#windows = new ErrorWindows({ windowSeconds: deps.config.autoRevert.windowSeconds, now: deps.clock })
    this.#autoRevert = this.#newAutoRevert(deps.config)
    this.#rollouts = this.#newRollouts(deps.config, gate)
    deps.metrics.setState(deps.state)
    this.service.on('change', (e: ChangeEvent) => {
      // The counters describe the idle color: a new live color starts them over.
      if (e.state.live !== e.previous.live) this.shadow.reset()
      this.#windows.onChange(e)
      deps.metrics.onChange(e)
      deps.onChange(e)
    })
    const metrics = deps.metrics.observer
    // Built once per app; the windows behind it may be replaced by a reload.
    this.observer = {
      request: (color, status, seconds, kind) => {
        this.#windows.request(color, status, seconds, kind)
        metrics.request(color, status, seconds, kind)
      },
    }
  }

  targets(): Record<Color, { url: string; up: boolean }[]> | null {
    return this.#deps.targets()
  }

  get config(): AppConfig {
    return this.#config
  }

  get windows(): ErrorWindows {
    return this.#windows
  }

  get smoke(): SmokeGate {
    return this.#smoke
  }

  get rollouts(): RolloutController {
    return this.#rollouts
  }

  /** Starts the watch loops (auto-revert when enabled, rollouts). */
  start(): void {
    this.#started = true
    this.#autoRevert.start()
    this.#rollouts.start()
  }

  /** Stops the watch loops and the smoke agent; the store is closed by its owner. */
  async stop(): Promise<void> {
    this.#started = false
    await Promise.all([this.#rollouts.stop(), this.#autoRevert.stop()])
    await this.#smoke.close()
  }

  /** Applies a reloaded config of this app (same name). */
  async reconfigure(config: AppConfig): Promise<void> {
    const old = this.#config
    const oldSmoke = this.#smoke
    await Promise.all([this.#rollouts.stop(), this.#autoRevert.stop()])
    this.#config = config
    this.runtime.reconfigure(routingOptions(config))
    this.shadow.reconfigure(config.mirror)
    this.#smoke = this.#newSmoke(config)
    if (config.autoRevert.windowSeconds !== old.autoRevert.windowSeconds) {
      this.#windows = new ErrorWindows({ windowSeconds: config.autoRevert.windowSeconds, now: this.#deps.clock })
    }
    const gate: SmokeGate = { run: (c: Color): Promise<SmokeReport> => this.#smoke.run(c) }
    this.#autoRevert = this.#newAutoRevert(config)
    this.#rollouts = this.#newRollouts(config, gate)
    if (this.#started) this.start()
    await oldSmoke.close()
  }

  /** The windows as the controllers read them: through this app, since a reload may replace them. */
  #windowSource(config: AppConfig): WindowSource {
    return { windowSeconds: config.autoRevert.windowSeconds, snapshot: (c: Color) => this.#windows.snapshot(c) }
  }

  #newSmoke(config: AppConfig): SmokeRunner {
    return createSmokeRunner({ checks: config.smoke.checks, upstreams: config.upstreams })
  }

  #newAutoRevert(config: AppConfig): AutoRevert {
    return new AutoRevert({
      service: this.service,
      windows: this.#windowSource(config),
      settings: config.autoRevert,
      clock: this.#deps.clock,
      logger: this.#deps.logger,
    })
  }

  #newRollouts(config: AppConfig, gate: SmokeGate): RolloutController {
    return new RolloutController({
      service: this.service,
      windows: this.#windowSource(config),
      thresholds: { maxErrorRate: config.autoRevert.maxErrorRate, minRequests: config.autoRevert.minRequests },
      clock: this.#deps.clock,
      logger: this.#deps.logger,
      smoke: gate,
      shadow: this.shadow,
    })
  }
}
