import { randomUUID } from 'node:crypto'
import { SwitchyardError } from '../errors.js'
import { other, type ChangeContext, type Color, type Rollout } from '../routing/index.js'
import { abort, advance, heldMs, holdElapsed, pause, promote, resume, startRollout, type RolloutPlan } from '../routing/rollout.js'
import {
  revertDetail,
  revertReason,
  verdict,
  type IntervalTimers,
  type StateUpdater,
  type Thresholds,
  type Verdict,
  type WindowSource,
} from './auto-revert.js'
import { passGates, type ShadowGate } from './gate.js'
import { Ticker } from './ticker.js'
import type { Log } from '../observability/logger.js'
import type { SmokeGate, WriteOptions, WriteResult } from './types.js'

export interface RolloutControllerOptions {
  service: StateUpdater
  windows: WindowSource
  /** config `autoRevert` thresholds: the same analysis judges each step */
  thresholds: Thresholds
  /** epoch ms */
  clock: () => number
  logger: Log
  /** runs on the rolled-out color before a rollout starts and before a manual promote, unless `force` */
  smoke?: SmokeGate
  /** the shadow diff's verdict, checked with the smoke gate (the same gate as the state service's) */
  shadow?: ShadowGate
  /** history actor of the controller's own steps (default 'switchyard') */
  actor?: string
  /** evaluation period (default 500 ms) */
  intervalMs?: number
  timers?: IntervalTimers
  /** rollout ids (default random UUID) */
  newId?: () => string
}

/** Where a rollout stands; see {@link RolloutController.progress}. */
export interface RolloutProgress {
  /** 1-based */
  step: number
  steps: number
  percent: number
  heldSeconds: number
  holdSeconds: number
  verdict: Verdict
  /** what the next step waits for: 'holding', 'not enough data', 'paused', 'awaiting promotion'; null when nothing */
  waitingFor: string | null
  requests: number
  errors: number
  errorRate: number
  minRequests: number
}

/** What one evaluation saw and did. */
export interface RolloutOutcome {
  /** 'none' when no rollout is in progress */
  action: 'none' | 'hold' | 'advance' | 'promote' | 'await-promotion' | 'revert'
  verdict: Verdict | null
  /** why it held: paused, hold time not served yet, not enough data, awaiting promotion */
  why: string | null
  result: WriteResult | null
}

const NONE: RolloutOutcome = Object.freeze({ action: 'none', verdict: null, why: null, result: null })

/**
 * Drives `state.rollout`: on each tick, a breach of the rolled-out color
 * reverts (abort with action 'auto-revert'), and a running step whose hold
 * time is served advances if the window has enough data and is healthy —
 * "not enough data" holds. After the last step it promotes (flips) when
 * `autoPromote`, else waits for `promote`.
 *
 * All progress is in the state (stepStartedAt, heldMs), so a restarted
 * router carries on where the rollout was; the error window starts empty
 * then, and the step holds until it has data again. Every write is a
 * transition keyed on the rollout id and step, so with several instances
 * each step and the revert happen once.
 *
 * While a rollout exists this controller, not AutoRevert, judges the idle
 * color; it does so whether or not `autoRevert.enabled` (a progressive
 * rollout without analysis would only be a slow flip).
 *
 * @example
 * const rollouts = new RolloutController({ service, windows, thresholds: config.autoRevert, clock: Date.now, logger, smoke })
 * rollouts.start()
 * await rollouts.begin({ steps: [{ percent: 10, holdSeconds: 60 }, { percent: 50, holdSeconds: 60 }] }, { actor: 'cli' })
 */
export class RolloutController {
  readonly #o: RolloutControllerOptions
  readonly #actor: string
  readonly #ticker: Ticker<RolloutOutcome>
  readonly #newId: () => string
  #lastNote = ''

  constructor(opts: RolloutControllerOptions) {
    this.#o = opts
    this.#actor = opts.actor ?? 'switchyard'
    this.#ticker = new Ticker(
      () => this.#evaluate(),
      (err) => {
        this.#o.logger.error({ err }, 'rollout: the step could not be stored; trying again on the next tick')
        return NONE
      },
      opts.intervalMs,
      opts.timers,
    )
    this.#newId = opts.newId ?? randomUUID
  }

  /** The rollout in progress, or null. */
  get current(): Rollout | null {
    return this.#o.service.state.rollout
  }

  /**
   * Where the rollout in progress stands now, for operators: the step, the
   * window of the rolled-out color, and what the next step waits for (so a
   * step held by too little traffic is visible, not silent).
   */
  get progress(): RolloutProgress | null {
    const r = this.current
    if (r === null) return null
    const snap = this.#o.windows.snapshot(r.color)
    const v = verdict(snap, this.#o.thresholds)
    const step = r.steps[r.stepIndex]
    return {
      step: r.stepIndex + 1,
      steps: r.steps.length,
      percent: step.percent,
      heldSeconds: Math.floor(heldMs(r, this.#o.clock()) / 1000),
      holdSeconds: step.holdSeconds,
      verdict: v,
      waitingFor: v === 'breach' ? null : this.#holdReason(r, v),
      requests: snap.requests,
      errors: snap.errors,
      errorRate: snap.errorRate,
      minRequests: this.#o.thresholds.minRequests,
    }
  }

  // ── operator calls (admin API) ─────────────────────────────────────────

  /**
   * Starts a rollout of the idle color. BAD_REQUEST for a bad plan,
   * ROLLOUT_ACTIVE when one runs, SMOKE_FAILED when the idle color fails
   * its checks (unless `force`).
   */
  async begin(plan: RolloutPlan, o: WriteOptions): Promise<WriteResult> {
    const current = this.#o.service.state
    if (current.rollout !== null) throw new SwitchyardError('ROLLOUT_ACTIVE')
    const color = other(current.live)
    await this.#gate(color, o)
    const id = this.#newId()
    return this.#o.service.update((s) => {
      // The checks ran on `color`; refuse if the roles changed meanwhile.
      if (other(s.live) !== color) {
        throw new SwitchyardError('VERSION_MISMATCH', 'the live color changed while the smoke checks ran; try again')
      }
      return startRollout(s, this.#ctx(o), plan, id)
    }, o)
  }

  /** Stops the hold clock (the canary stays). NO_ROLLOUT when none. */
  pause(o: WriteOptions): Promise<WriteResult> {
    return this.#o.service.update((s) => pause(s, this.#ctx(o)), o)
  }

  /** Restarts the hold clock where it stopped. NO_ROLLOUT when none. */
  resume(o: WriteOptions): Promise<WriteResult> {
    return this.#o.service.update((s) => resume(s, this.#ctx(o)), o)
  }

  /** Ends the rollout, canary to 0. NO_ROLLOUT when none. */
  abort(o: WriteOptions): Promise<WriteResult> {
    return this.#o.service.update((s) => abort(s, this.#ctx(o)), o)
  }

  /**
   * Flips to the rolled-out color now (smoke checks first unless `force`).
   * NO_ROLLOUT when none.
   */
  async promote(o: WriteOptions): Promise<WriteResult> {
    const r = this.#o.service.state.rollout
    if (r === null) throw new SwitchyardError('NO_ROLLOUT')
    await this.#gate(r.color, o)
    return this.#o.service.update((s) => {
      if (s.rollout !== null && s.rollout.id !== r.id) {
        throw new SwitchyardError('VERSION_MISMATCH', 'another rollout started while the smoke checks ran; try again')
      }
      return promote(s, this.#ctx(o))
    }, o)
  }

  // ── the loop ───────────────────────────────────────────────────────────

  /** Evaluates once (the timer calls this; tests call it directly). Never throws. */
  tick(): Promise<RolloutOutcome> {
    return this.#ticker.tick()
  }

  /** Evaluates every `intervalMs` (default 500 ms). */
  start(): void {
    this.#ticker.start()
  }

  /** Stops the timer and waits for an evaluation in progress. */
  stop(): Promise<void> {
    return this.#ticker.stop()
  }

  async #evaluate(): Promise<RolloutOutcome> {
    const { service, windows, thresholds, logger } = this.#o
    const s = service.state
    const r = s.rollout
    if (r === null) return NONE
    const snap = windows.snapshot(r.color)
    const v = verdict(snap, thresholds)

    if (v === 'breach') {
      const why = revertReason(r.color, snap, windows.windowSeconds, thresholds)
      const detail = { ...revertDetail(r.color, snap, windows.windowSeconds, thresholds), rollout: r.id }
      const ctx = this.#ctx({ actor: this.#actor, reason: why })
      const result = await service.update(
        (fresh) => (fresh.rollout !== null && fresh.rollout.id === r.id ? abort(fresh, ctx, 'auto-revert', detail) : null),
        { actor: this.#actor, reason: why },
      )
      if (result.changed) logger.warn({ step: r.stepIndex, ...detail }, `rollout reverted: ${why}`)
      return { action: 'revert', verdict: v, why, result: result.changed ? result : null }
    }

    const hold = this.#holdReason(r, v)
    if (hold !== null) {
      this.#note(r, hold, { rollout: r.id, step: r.stepIndex, verdict: v, ...snap })
      return { action: 'hold', verdict: v, why: hold, result: null }
    }

    const ctx = this.#ctx({ actor: this.#actor, reason: null })
    const result = await service.update((fresh) => advance(fresh, ctx, r.id, r.stepIndex), { actor: this.#actor })
    const last = r.stepIndex === r.steps.length - 1
    const action: RolloutOutcome['action'] = !last ? 'advance' : r.autoPromote ? 'promote' : 'await-promotion'
    if (result.changed) {
      logger.info({ rollout: r.id, step: r.stepIndex, ...snap, canary: result.state.canary, live: result.state.live }, `rollout: ${action}`)
    }
    return { action, verdict: v, why: null, result: result.changed ? result : null }
  }

  #holdReason(r: Rollout, v: Verdict): string | null {
    if (r.status === 'paused') return 'paused'
    if (r.status === 'awaiting-promotion') return 'awaiting promotion'
    if (!holdElapsed(r, this.#o.clock())) return 'holding'
    if (v === 'not-enough-data') return 'not enough data'
    return null
  }

  /** Logs a hold once per (rollout, step, reason). */
  #note(r: Rollout, why: string, facts: object): void {
    const key = `${r.id}:${r.stepIndex}:${why}`
    if (key === this.#lastNote) return
    this.#lastNote = key
    this.#o.logger.info(facts, `rollout: ${why}`)
  }

  #ctx(o: WriteOptions): ChangeContext {
    return { at: new Date(this.#o.clock()).toISOString(), actor: o.actor, reason: o.reason ?? null }
  }

  #gate(color: Color, o: WriteOptions): Promise<void> {
    return passGates(color, o, this.#o.smoke, this.#o.shadow)
  }
}
