import { EventEmitter } from 'node:events'
import { compile, mirrorPercent, type RoutingOptions, type RoutingTable, type State } from '../routing/index.js'

/**
 * Holds the current state and its compiled routing table. `apply` swaps one
 * reference, so every request reads one whole table: a flip is atomic, and a
 * request in flight keeps the table it started with.
 *
 * Emits `change` (state, previous) after each swap.
 */
export class Runtime extends EventEmitter {
  #state: State
  #table: RoutingTable
  #options: RoutingOptions

  constructor(state: State, options: RoutingOptions) {
    super()
    this.#options = options
    this.#state = withMirror(state, options)
    this.#table = compile(this.#state, options)
  }

  /** The routing settings from the config (stickiness, overrides). */
  get options(): RoutingOptions {
    return this.#options
  }

  /**
   * New routing settings (a reload): the same state, compiled again, swapped
   * in one reference like a change of state. No version change, no event.
   */
  reconfigure(options: RoutingOptions): void {
    this.#table = compile(this.#state, options)
    this.#options = options
  }

  get state(): State {
    return this.#state
  }

  /** The table the data plane reads, once per request. */
  get table(): RoutingTable {
    return this.#table
  }

  /** Applies `state` if it is newer than the current one; returns whether it did. */
  apply(state: State): boolean {
    if (state.version <= this.#state.version) return false
    const previous = this.#state
    state = withMirror(state, this.#options)
    this.#table = compile(state, this.#options)
    this.#state = state
    this.emit('change', state, previous)
    return true
  }
}

/**
 * A state stored before dark launch existed has no `mirror`: it routes with
 * the config's `mirror.percent`, and reads so (the stored copy is untouched
 * until the next write).
 */
function withMirror(state: State, options: RoutingOptions): State {
  return typeof state.mirror === 'number' ? state : { ...state, mirror: mirrorPercent(state, options) }
}
