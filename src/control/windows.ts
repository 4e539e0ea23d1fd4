import type { Color, State } from '../routing/index.js'
import type { RequestObserver, UpstreamErrorKind } from '../dataplane/observer.js'
import type { ChangeEvent } from './types.js'

/** Requests and errors of one color in the sliding window. */
export interface WindowSnapshot {
  requests: number
  errors: number
  /** errors / requests; 0 when there are no requests */
  errorRate: number
}

/**
 * One color's ring of 1-second buckets.
 *
 * ```
 *   second:   … 97  98  99  100 101 102   (head = 102, size = 6)
 *   slot:        1   2   3   4   5   0    (second % size)
 *                └──────── window ────┘
 * ```
 * `head` is the newest second written or read. Moving to a later second
 * zeroes the slots passed over (at most `size` of them) and takes their
 * counts off the running totals, so recording and reading are O(1)
 * amortised and allocate nothing. The window therefore spans the current
 * second and the `size - 1` before it.
 */
class Ring {
  readonly #requests: Uint32Array
  readonly #errors: Uint32Array
  readonly #size: number
  #head = -1
  #totalRequests = 0
  #totalErrors = 0

  constructor(size: number) {
    this.#size = size
    this.#requests = new Uint32Array(size)
    this.#errors = new Uint32Array(size)
  }

  /** Moves the head to `second`, zeroing the buckets that fell out. */
  #advance(second: number): number {
    const head = this.#head
    // A clock that steps back keeps counting into the newest bucket.
    if (second <= head) return head % this.#size
    // The first use finds every slot zero already.
    const steps = head < 0 ? 0 : Math.min(second - head, this.#size)
    for (let i = 1; i <= steps; i++) {
      const slot = (second - steps + i) % this.#size
      this.#totalRequests -= this.#requests[slot]
      this.#totalErrors -= this.#errors[slot]
      this.#requests[slot] = 0
      this.#errors[slot] = 0
    }
    this.#head = second
    return second % this.#size
  }

  record(second: number, isError: boolean): void {
    const slot = this.#advance(second)
    this.#requests[slot]++
    this.#totalRequests++
    if (isError) {
      this.#errors[slot]++
      this.#totalErrors++
    }
  }

  /** Counts a batch of requests (a worker's report) in one step. */
  add(second: number, requests: number, errors: number): void {
    const slot = this.#advance(second)
    this.#requests[slot] += requests
    this.#errors[slot] += errors
    this.#totalRequests += requests
    this.#totalErrors += errors
  }

  snapshot(second: number): WindowSnapshot {
    this.#advance(second)
    const requests = this.#totalRequests
    const errors = this.#totalErrors
    return { requests, errors, errorRate: requests === 0 ? 0 : errors / requests }
  }

  reset(): void {
    this.#requests.fill(0)
    this.#errors.fill(0)
    this.#totalRequests = 0
    this.#totalErrors = 0
  }
}

export interface ErrorWindowsOptions {
  /** width of the sliding window, in seconds (autoRevert.windowSeconds) */
  windowSeconds: number
  /** injected clock, epoch milliseconds */
  now: () => number
}

/**
 * Per color, requests and errors over the last `windowSeconds`. An error is
 * a 5xx sent to the client or a failure of the router itself (connect,
 * timeout, reset). Implements the data plane's `RequestObserver`.
 *
 * @example
 * const windows = new ErrorWindows({ windowSeconds: 30, now: Date.now })
 * windows.request('green', 503, 0.01, null)
 * windows.snapshot('green') // { requests: 1, errors: 1, errorRate: 1 }
 */
export class ErrorWindows implements RequestObserver {
  readonly windowSeconds: number
  readonly #now: () => number
  readonly #blue: Ring
  readonly #green: Ring

  constructor(opts: ErrorWindowsOptions) {
    this.windowSeconds = opts.windowSeconds
    this.#now = opts.now
    this.#blue = new Ring(opts.windowSeconds)
    this.#green = new Ring(opts.windowSeconds)
  }

  #ring(color: Color): Ring {
    return color === 'blue' ? this.#blue : this.#green
  }

  /** Counts one finished request. O(1), no allocation. */
  record(color: Color, isError: boolean): void {
    this.#ring(color).record(Math.floor(this.#now() / 1000), isError)
  }

  /** RequestObserver: an error is status ≥ 500 or a router failure. */
  request(color: Color, status: number, _seconds: number, kind: UpstreamErrorKind | null): void {
    this.record(color, status >= 500 || kind !== null)
  }

  /** Counts requests another process served (a worker's batch), as of now. */
  add(color: Color, requests: number, errors: number): void {
    this.#ring(color).add(Math.floor(this.#now() / 1000), requests, errors)
  }

  snapshot(color: Color): WindowSnapshot {
    return this.#ring(color).snapshot(Math.floor(this.#now() / 1000))
  }

  /** Forgets the color's counts: analysis restarts from now. */
  reset(color: Color): void {
    this.#ring(color).reset()
  }

  /**
   * Restarts analysis when what is analysed changes (a flip or rollback, a
   * canary leaving 0, a new rollout or rollout step). Wire to the state
   * service's 'change' event.
   */
  // An arrow property: handed around as a listener, bound once.
  readonly onChange = (e: ChangeEvent): void => {
    for (const color of resetsFor(e.previous, e.state)) this.reset(color)
  }
}

/** The colors whose windows must restart when the state goes from `prev` to `next`. */
export function resetsFor(prev: State, next: State): Color[] {
  // Both roles changed: neither window describes the new situation.
  if (prev.live !== next.live) return ['blue', 'green']
  const idle: Color = next.live === 'blue' ? 'green' : 'blue'
  if (prev.canary === 0 && next.canary > 0) return [idle]
  const a = prev.rollout
  const b = next.rollout
  if (b !== null && (a === null || a.id !== b.id || a.stepIndex !== b.stepIndex)) return [idle]
  return []
}
