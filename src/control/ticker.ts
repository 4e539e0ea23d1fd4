/** The part of setInterval the controllers use; injected for tests. */
export interface IntervalTimers {
  setInterval(fn: () => void, ms: number): { unref?(): unknown }
  clearInterval(handle: unknown): void
}

const realTimers: IntervalTimers = { setInterval, clearInterval: (h) => clearInterval(h as NodeJS.Timeout) }

/**
 * Runs an evaluation every `intervalMs`, one at a time: a tick while the
 * previous one is still running joins it instead of starting another, so a
 * slow store write never stacks evaluations. An evaluation never throws out
 * of `tick`: a failure is reported and `fallback` returned, and the next tick
 * tries again. The timer is unref'd, so it never keeps the process up.
 */
export class Ticker<T> {
  readonly #evaluate: () => Promise<T>
  readonly #onError: (err: unknown) => T
  readonly #timers: IntervalTimers
  readonly #intervalMs: number
  #handle: unknown = null
  #running: Promise<T> | null = null

  constructor(evaluate: () => Promise<T>, onError: (err: unknown) => T, intervalMs = 500, timers: IntervalTimers = realTimers) {
    this.#evaluate = evaluate
    this.#onError = onError
    this.#intervalMs = intervalMs
    this.#timers = timers
  }

  /** Evaluates once now, or joins the evaluation in progress. Never rejects. */
  tick(): Promise<T> {
    if (this.#running !== null) return this.#running
    this.#running = this.#evaluate()
      .catch(this.#onError)
      .finally(() => {
        this.#running = null
      })
    return this.#running
  }

  start(): void {
    if (this.#handle !== null) return
    const h = this.#timers.setInterval(() => void this.tick(), this.#intervalMs)
    h.unref?.()
    this.#handle = h
  }

  /** Stops the timer and waits for an evaluation in progress. */
  async stop(): Promise<void> {
    if (this.#handle !== null) this.#timers.clearInterval(this.#handle)
    this.#handle = null
    if (this.#running !== null) await this.#running
  }
}
