import { other, rollback, setCanary, type ChangeContext, type Color, type State } from '../routing/index.js'
import type { Transition, WriteOptions, WriteResult } from './types.js'
import type { WindowSnapshot } from './windows.js'
import type { Log } from '../observability/logger.js'
import { Ticker, type IntervalTimers } from './ticker.js'

/** @deprecated the one logger interface is `Log` (observability/logger.ts); this name stays for older imports */
export type WatchLogger = Log

/** The part of the StateService the controllers use. */
export interface StateUpdater {
  readonly state: State
  update(t: Transition, o: WriteOptions & { retries?: number }): Promise<WriteResult>
}

/** Where the controllers read the measured error rates (ErrorWindows). */
export interface WindowSource {
  readonly windowSeconds: number
  snapshot(color: Color): WindowSnapshot
}

/** Thresholds from config `autoRevert`. */
export interface Thresholds {
  maxErrorRate: number
  minRequests: number
}

export type Verdict = 'not-enough-data' | 'healthy' | 'breach'

/**
 * The verdict on one window: fewer than `minRequests` gives no verdict at
 * all — neither a revert nor a rollout step is decided on thin data.
 */
export function verdict(snap: WindowSnapshot, t: Thresholds): Verdict {
  if (snap.requests < t.minRequests) return 'not-enough-data'
  return snap.errorRate > t.maxErrorRate ? 'breach' : 'healthy'
}

/** Why a color is under watch. */
export type WatchReason = 'canary' | 'rollout' | 'after-flip'

/**
 * The colors under watch in `state` at `nowMs`: the idle color while a
 * canary or rollout sends it users, the live color for
 * `watchSecondsAfterFlip` after the last flip.
 */
export function watchedColors(state: State, nowMs: number, watchSecondsAfterFlip: number): Map<Color, WatchReason> {
  const out = new Map<Color, WatchReason>()
  const idle = other(state.live)
  if (state.rollout !== null) out.set(idle, 'rollout')
  else if (state.canary > 0) out.set(idle, 'canary')
  if (inFlipWatch(state, nowMs, watchSecondsAfterFlip)) out.set(state.live, 'after-flip')
  return out
}

function inFlipWatch(state: State, nowMs: number, seconds: number): boolean {
  if (state.lastFlipAt === null || state.previous === null) return false
  // The router's own rollback returned to the color that was good before:
  // watching it again could flip two failing colors back and forth.
  if (state.lastFlipAction === 'auto-revert') return false
  return nowMs - Date.parse(state.lastFlipAt) < seconds * 1000
}

/** The facts recorded in an auto-revert's history entry. */
export function revertDetail(color: Color, snap: WindowSnapshot, windowSeconds: number, t: Thresholds): Record<string, unknown> {
  return {
    color,
    errorRate: snap.errorRate,
    requests: snap.requests,
    errors: snap.errors,
    windowSeconds,
    maxErrorRate: t.maxErrorRate,
  }
}

/** "error rate 50.0% > 5.0% over 40 requests in 30 s" */
export function revertReason(color: Color, snap: WindowSnapshot, windowSeconds: number, t: Thresholds): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`
  return `${color} error rate ${pct(snap.errorRate)} > ${pct(t.maxErrorRate)} over ${snap.requests} requests in ${windowSeconds} s`
}

export type { IntervalTimers } from './ticker.js'

export interface AutoRevertOptions {
  service: StateUpdater
  windows: WindowSource
  /** config `autoRevert` */
  settings: Thresholds & { enabled: boolean; watchSecondsAfterFlip: number }
  /** epoch ms */
  clock: () => number
  logger: Log
  /** history actor of a revert (default 'switchyard') */
  actor?: string
  /** evaluation period (default 500 ms) */
  intervalMs?: number
  timers?: IntervalTimers
}

/** What one evaluation saw and did; returned by `tick` for tests and logs. */
export interface AutoRevertOutcome {
  color: Color | null
  reason: WatchReason | null
  verdict: Verdict | null
  /** the stored revert, or null when nothing was written */
  reverted: WriteResult | null
}

const IDLE: AutoRevertOutcome = Object.freeze({ color: null, reason: null, verdict: null, reverted: null })

/**
 * Reverts on its own when the color under watch breaks the error-rate
 * threshold: canary → 0 while a canary runs, rollback for
 * `watchSecondsAfterFlip` after a flip. A running rollout is the rollout
 * controller's to judge (one analysis, one revert).
 *
 * Every write goes through `service.update` with a transition that re-checks
 * the fresh state, so with several instances the revert is stored once: the
 * others find the canary already 0 or the flip already undone and write
 * nothing.
 *
 * Known limit: after an auto-revert rollback, this instance does not watch
 * the color it went back to (no ping-pong); another instance only knows the
 * state, not why it changed, and may watch it.
 *
 * @example
 * const autoRevert = new AutoRevert({ service, windows, settings: config.autoRevert, clock: Date.now, logger })
 * autoRevert.start()
 * // on shutdown
 * await autoRevert.stop()
 */
export class AutoRevert {
  readonly #o: AutoRevertOptions
  readonly #actor: string
  readonly #ticker: Ticker<AutoRevertOutcome>
  /** last verdict per watch, to log changes rather than every tick */
  readonly #lastVerdict = new Map<WatchReason, string>()

  constructor(opts: AutoRevertOptions) {
    this.#o = opts
    this.#actor = opts.actor ?? 'switchyard'
    this.#ticker = new Ticker(
      () => this.#evaluate(),
      (err) => {
        this.#o.logger.error({ err }, 'auto-revert: the revert could not be stored; trying again on the next tick')
        return IDLE
      },
      opts.intervalMs,
      opts.timers,
    )
  }

  /** Evaluates once (the timer calls this; tests call it directly). Never throws. */
  tick(): Promise<AutoRevertOutcome> {
    return this.#ticker.tick()
  }

  /** Evaluates every `intervalMs` (default 500 ms); a no-op when auto-revert is disabled. */
  start(): void {
    if (this.#o.settings.enabled) this.#ticker.start()
  }

  /** Stops the timer and waits for an evaluation in progress. */
  stop(): Promise<void> {
    return this.#ticker.stop()
  }

  async #evaluate(): Promise<AutoRevertOutcome> {
    const { settings, service } = this.#o
    if (!settings.enabled) return IDLE
    const s = service.state
    const now = this.#o.clock()
    const idle = other(s.live)

    // The canary first: it is the riskier trial and the cheaper revert.
    let out = IDLE
    if (s.rollout === null && s.canary > 0) {
      out = await this.#judge(s, idle, 'canary', (fresh, ctx, detail) => {
        // A change of roles or a rollout since: this measurement is stale.
        if (fresh.live !== s.live || fresh.rollout !== null || fresh.canary === 0) return null
        return setCanary(fresh, ctx, 0, 'auto-revert', detail)
      })
      if (out.verdict === 'breach') return out
    }
    if (inFlipWatch(s, now, settings.watchSecondsAfterFlip)) {
      return this.#judge(s, s.live, 'after-flip', (fresh, ctx, detail) => {
        // Only undo the flip that was measured, and only once.
        if (fresh.live !== s.live || fresh.lastFlipAt !== s.lastFlipAt || fresh.previous === null) return null
        return rollback(fresh, ctx, 'auto-revert', detail)
      })
    }
    return out
  }

  async #judge(
    s: State,
    color: Color,
    reason: WatchReason,
    revert: (fresh: State, ctx: ChangeContext, detail: Record<string, unknown>) => ReturnType<Transition>,
  ): Promise<AutoRevertOutcome> {
    const { settings, windows, logger } = this.#o
    const snap = windows.snapshot(color)
    const v = verdict(snap, settings)
    this.#note(reason, `${s.version}:${color}:${v}`, { color, watch: reason, verdict: v, ...snap }, v)
    if (v !== 'breach') return { color, reason, verdict: v, reverted: null }

    const why = revertReason(color, snap, windows.windowSeconds, settings)
    const detail = revertDetail(color, snap, windows.windowSeconds, settings)
    const ctx: ChangeContext = { at: new Date(this.#o.clock()).toISOString(), actor: this.#actor, reason: why }
    const result = await this.#o.service.update((fresh) => revert(fresh, ctx, detail), { actor: this.#actor, reason: why })
    if (result.changed) {
      logger.warn({ color, watch: reason, ...detail, version: result.state.version }, `auto-revert: ${why}`)
    } else {
      logger.info({ color, watch: reason }, 'auto-revert: nothing to revert any more (done elsewhere)')
    }
    return { color, reason, verdict: v, reverted: result.changed ? result : null }
  }

  /** Logs a verdict when it differs from the last one logged. */
  #note(reason: WatchReason, key: string, facts: object, v: Verdict): void {
    if (this.#lastVerdict.get(reason) === key) return
    this.#lastVerdict.set(reason, key)
    if (v !== 'breach') this.#o.logger.info(facts, `auto-revert: ${v === 'healthy' ? 'healthy' : 'not enough data'}`)
  }
}
