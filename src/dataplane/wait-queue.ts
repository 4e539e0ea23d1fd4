/**
 * Requests waiting for an upstream connection, oldest first, so that none
 * waits unbounded when every connection of a color is busy (undici's pool
 * queue has no timeout of its own).
 *
 * An intrusive doubly linked list: each waiter carries its own `prev`/`next`
 * and enqueue time, so entering and leaving allocate nothing. Waiters enter
 * when dispatched and leave when undici hands them a connection (`onConnect`)
 * or fails them. One unref'd interval per data plane sweeps from the head:
 * entries are in enqueue order, so it stops at the first one not yet expired.
 *
 *   head → [oldest] ⇄ [..] ⇄ [newest] ← tail
 */
export interface Waiter {
  waitPrev: Waiter | null
  waitNext: Waiter | null
  /** performance.now() when it entered; -1 while not queued */
  waitSince: number
  /** the wait passed `timeoutMs`: it has already left the queue */
  waitExpired(): void
}

export class WaitQueue {
  readonly timeoutMs: number
  #head: Waiter | null = null
  #tail: Waiter | null = null
  #timer: NodeJS.Timeout | null = null
  /** monotonic ms (performance.now), never epoch ms */
  readonly #monotonic: () => number

  constructor(timeoutMs: number, monotonic: () => number) {
    this.timeoutMs = timeoutMs
    this.#monotonic = monotonic
  }

  /** Starts the sweep (each `1/4` of the timeout, between 20 ms and 1 s). */
  start(): void {
    if (this.#timer !== null) return
    const every = Math.max(20, Math.min(1000, Math.floor(this.timeoutMs / 4)))
    this.#timer = setInterval(this.#sweep, every)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }

  /** Queues `w` at the tail; `monotonicMs` is the time now on the queue's monotonic clock. */
  enter(w: Waiter, monotonicMs: number): void {
    w.waitSince = monotonicMs
    w.waitNext = null
    w.waitPrev = this.#tail
    if (this.#tail !== null) this.#tail.waitNext = w
    else this.#head = w
    this.#tail = w
  }

  /** Leaves the queue; a no-op when `w` is not in it. */
  leave(w: Waiter): void {
    if (w.waitSince < 0) return
    w.waitSince = -1
    const p = w.waitPrev
    const n = w.waitNext
    if (p !== null) p.waitNext = n
    else this.#head = n
    if (n !== null) n.waitPrev = p
    else this.#tail = p
    w.waitPrev = null
    w.waitNext = null
  }

  #sweep = (): void => {
    const limit = this.#monotonic() - this.timeoutMs
    let w = this.#head
    while (w !== null && w.waitSince <= limit) {
      this.leave(w)
      w.waitExpired()
      w = this.#head
    }
  }
}
