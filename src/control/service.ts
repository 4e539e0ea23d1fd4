import { EventEmitter } from 'node:events'
import { SwitchyardError, isSwitchyardError } from '../errors.js'
import {
  flip,
  initialState,
  other,
  putCohort,
  removeCohort,
  rollback,
  setCanary,
  setMirror,
  type ChangeContext,
  type Cohort,
  type Color,
  type HistoryEntry,
  type State,
} from '../routing/index.js'
import { passGates, type ShadowGate } from './gate.js'
import type { Runtime } from './runtime.js'
import type { StateStore } from './store/types.js'
import type { ChangeEvent, Convergence, SmokeGate, Transition, WriteOptions, WriteResult } from './types.js'

/** The part of a pino logger the service uses. */
export interface ServiceLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface StateServiceDeps {
  /** the app this service writes for: stamped on history entries and change events (default "default") */
  app?: string
  store: StateStore
  runtime: Runtime
  /** ms since the epoch; injected so tests control time */
  clock: () => number
  /** runs before a flip and before a canary leaves 0, unless `force` */
  smoke?: SmokeGate
  /** the shadow diff's verdict, checked with the smoke gate (dark launch) */
  shadow?: ShadowGate
  /** tells whether every instance applied a version (Redis); absent: always true */
  convergence?: Convergence
  logger?: ServiceLogger
}

/** Store conflicts retried by a write without If-Match before giving up. */
const DEFAULT_RETRIES = 3

/**
 * The only writer of the state. Every change goes the same way:
 *
 * ```
 * If-Match check → smoke gate (flip, canary up from 0) → [write lock:
 *   transition(current) → store.commit (CAS) → runtime.apply → 'change'
 * ] → convergence.wait
 * ```
 *
 * Writes are serialized in-process by a promise chain. The store's
 * compare-and-set catches writers elsewhere (other instances): on a conflict
 * without If-Match the service reloads, applies what it found and runs the
 * transition again on the fresh state, a bounded number of times. That is
 * what makes a fleet-wide auto-revert happen once: on the second attempt the
 * transition sees the revert already done and returns null.
 *
 * A refusal (smoke, If-Match, transition error, store down) leaves the state
 * exactly as it was: the runtime is only touched after the store committed.
 *
 * Emits `change` ({@link ChangeEvent}) after every stored change, and for
 * newer states from other instances (with `entry: null`).
 *
 * @example
 * const service = new StateService({ store, runtime, clock: Date.now, smoke })
 * const r = await service.setCanary(10, { actor: 'cli:ana', reason: 'try 1.4' })
 * r.state.canary // 10
 */
export class StateService extends EventEmitter {
  /** the app this service writes for */
  readonly app: string
  readonly #store: StateStore
  readonly #runtime: Runtime
  readonly #clock: () => number
  readonly #smoke: SmokeGate | undefined
  readonly #shadow: ShadowGate | undefined
  readonly #convergence: Convergence | undefined
  readonly #logger: ServiceLogger | undefined
  #queue: Promise<unknown> = Promise.resolve()

  constructor(deps: StateServiceDeps) {
    super()
    this.app = deps.app ?? 'default'
    this.#store = deps.store
    this.#runtime = deps.runtime
    this.#clock = deps.clock
    this.#smoke = deps.smoke
    this.#shadow = deps.shadow
    this.#convergence = deps.convergence
    this.#logger = deps.logger
    this.#store.onState((state) => this.#adopt(state))
  }

  /** The state the runtime routes with now. */
  get state(): State {
    return this.#runtime.state
  }

  /**
   * Makes `to` (default: the idle color) live; the canary and any rollout end.
   * Smoke checks run on the target first unless `force`. Asking for the live
   * color with nothing to end answers `changed: false`.
   */
  async flip(o: WriteOptions & { to?: Color }): Promise<WriteResult> {
    this.#checkIfMatch(o)
    const current = this.state
    // Fix the target now, so the color that passed the checks is the one made live.
    const target = o.to ?? other(current.live)
    if (target !== current.live) await this.#gate(target, o)
    return this.#write(o, (s) => flip(s, this.#ctx(o), target))
  }

  /** Makes the previous live color live again; NO_PREVIOUS when there is none. */
  async rollback(o: WriteOptions): Promise<WriteResult> {
    return this.#write(o, (s) => rollback(s, this.#ctx(o)))
  }

  /**
   * Sets the canary percent (0–100, two decimals). Smoke checks run on the
   * idle color when the canary goes up from 0, unless `force`. Refused with
   * ROLLOUT_ACTIVE while a rollout owns the percent.
   */
  async setCanary(percent: number, o: WriteOptions): Promise<WriteResult> {
    if (!Number.isFinite(percent) || percent < 0 || percent > 100) {
      throw new SwitchyardError('BAD_REQUEST', `percent must be between 0 and 100, got ${percent}`)
    }
    this.#checkIfMatch(o)
    const current = this.state
    if (current.rollout !== null) throw rolloutActive()
    const gated = this.#smoke !== undefined || this.#shadow !== undefined
    const needsGate = (s: State) => o.force !== true && gated && s.canary === 0 && percent > 0
    let checked: Color | null = null
    if (needsGate(current)) {
      checked = other(current.live)
      await this.#gate(checked, o)
    }
    return this.#write(o, (s) => {
      if (s.rollout !== null) throw rolloutActive()
      // The checks ran outside the lock; if the state moved so that another
      // color (or an unchecked one) would get the canary, refuse rather than
      // route users to a color nobody checked.
      if (needsGate(s) && checked !== other(s.live)) {
        throw new SwitchyardError('VERSION_MISMATCH', 'the state changed while the smoke checks ran; try again')
      }
      return setCanary(s, this.#ctx(o), percent)
    })
  }

  /** Adds a cohort at the end, or replaces the one with the same name in place. */
  async putCohort(c: Cohort, o: WriteOptions): Promise<WriteResult> {
    return this.#write(o, (s) => putCohort(s, this.#ctx(o), c))
  }

  /** Removes a cohort; NOT_FOUND when there is none by that name. */
  async removeCohort(name: string, o: WriteOptions): Promise<WriteResult> {
    return this.#write(o, (s) => removeCohort(s, this.#ctx(o), name))
  }

  /**
   * Applies a pure transition under the write lock, with the store's
   * compare-and-set. For the rollout controller and auto-revert: the
   * transition must decide from the state it is given (it may run more than
   * once, on fresher states) and return null when there is nothing to do.
   */
  async update(t: Transition, o: WriteOptions & { retries?: number }): Promise<WriteResult> {
    return this.#write(o, t, o.retries)
  }

  /** History from the store, newest first. */
  history(limit: number): Promise<HistoryEntry[]> {
    return this.#store.history(limit)
  }

  /** ISO time for a change, from the injected clock. */
  now(): string {
    return new Date(this.#clock()).toISOString()
  }

  #ctx(o: WriteOptions): ChangeContext {
    return { at: this.now(), actor: o.actor, reason: o.reason ?? null }
  }

  #checkIfMatch(o: WriteOptions): void {
    const version = this.state.version
    if (o.ifMatch !== undefined && o.ifMatch !== version) {
      throw new SwitchyardError('VERSION_MISMATCH', `If-Match ${o.ifMatch} is stale: the current version is ${version}`, {
        version,
      })
    }
  }

  #gate(color: Color, o: WriteOptions): Promise<void> {
    return passGates(color, o, this.#smoke, this.#shadow)
  }

  /**
   * Sets the mirror percent (dark launch: the share of live-rule requests
   * copied to the idle color). Recorded in history as `mirror`; lives in the
   * state, so every instance of a fleet mirrors the same share.
   */
  async setMirror(percent: number, o: WriteOptions): Promise<WriteResult> {
    if (!Number.isFinite(percent) || percent < 0 || percent > 100) {
      throw new SwitchyardError('BAD_REQUEST', `percent must be between 0 and 100, got ${percent}`)
    }
    return this.#write(o, (s) => setMirror(s, this.#ctx(o), percent))
  }

  /** Runs `fn` after every earlier write finished, successful or not. */
  #locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => undefined)
    return run
  }

  async #write(o: WriteOptions, t: Transition, retries = DEFAULT_RETRIES): Promise<WriteResult> {
    const result = await this.#locked(async (): Promise<WriteResult> => {
      this.#checkIfMatch(o)
      for (let attempt = 0; ; attempt++) {
        const current = this.state
        const change = t(current)
        if (change === null) return { changed: false, state: current, entry: null, converged: null }
        // History entries say which app they belong to (one history per app,
        // but webhooks and events mix apps).
        const entry: HistoryEntry = { ...change.entry, app: this.app }
        try {
          await this.#store.commit(change.state, entry)
        } catch (e) {
          if (!isSwitchyardError(e) || e.code !== 'VERSION_MISMATCH') throw e
          // Another instance wrote first: catch up before deciding anything.
          await this.#refresh()
          const version = this.state.version
          if (o.ifMatch !== undefined) {
            throw new SwitchyardError('VERSION_MISMATCH', `If-Match ${o.ifMatch} is stale: the current version is ${version}`, {
              version,
            })
          }
          if (attempt >= retries) throw e
          this.#logger?.info({ attempt: attempt + 1, version }, 'state changed elsewhere; retrying the write on the fresh state')
          continue
        }
        this.#apply(change.state, entry)
        return { changed: true, state: change.state, entry, converged: null }
      }
    })
    if (!result.changed) return result
    // Outside the lock: waiting for other instances must not hold up writes.
    const converged = this.#convergence === undefined ? true : await this.#convergence.wait(result.state.version)
    return { ...result, converged }
  }

  async #refresh(): Promise<void> {
    const fresh = await this.#store.load()
    if (fresh !== null) this.#adopt(fresh)
  }

  /** A state written elsewhere: apply it if newer, and tell listeners. */
  #adopt(state: State): void {
    this.#apply(state, null)
  }

  #apply(state: State, entry: HistoryEntry | null): void {
    const previous = this.#runtime.state
    if (!this.#runtime.apply(state)) return
    // The runtime's copy: a state stored before some field existed reads with its default.
    const event: ChangeEvent = { app: this.app, state: this.#runtime.state, previous, entry }
    try {
      this.emit('change', event)
    } catch (e) {
      // A listener's bug must not turn a stored change into a failed write.
      this.#logger?.error({ err: e }, 'a state change listener threw')
    }
  }
}

function rolloutActive(): SwitchyardError {
  return new SwitchyardError('ROLLOUT_ACTIVE', 'a rollout controls the canary; pause, abort or promote it first')
}

/**
 * The state to start with: the stored one, or a fresh one with
 * `initialLive` live when the store is empty (another instance may win that
 * race; its state is returned then).
 */
export async function loadOrInit(store: StateStore, initialLive: Color, clock: () => number, mirror = 0): Promise<State> {
  const stored = await store.load()
  if (stored !== null) return stored
  return store.initialize(initialState(initialLive, new Date(clock()).toISOString(), mirror))
}
