import type { IncomingMessage } from 'node:http'

/**
 * Requests in flight per client address (`limits.maxInFlightPerClient`), so
 * one client cannot hold most of a color's upstream connections (slow
 * uploads, say). The client is the socket's peer; with
 * `headers.trustForwarded` it is the last `x-forwarded-for` entry, the
 * address the load balancer in front saw.
 */
export class ClientLimit {
  readonly max: number
  readonly #trustForwarded: boolean
  readonly #inFlight = new Map<string, number>()

  constructor(max: number, trustForwarded: boolean) {
    this.max = max
    this.#trustForwarded = trustForwarded
  }

  /** The client's address as the key of its count. */
  key(req: IncomingMessage): string {
    if (this.#trustForwarded) {
      const xff = req.headers['x-forwarded-for']
      if (typeof xff === 'string' && xff !== '') {
        const i = xff.lastIndexOf(',')
        return i < 0 ? xff.trim() : xff.slice(i + 1).trim()
      }
    }
    return req.socket.remoteAddress ?? ''
  }

  /** Counts one more request of `key`; false (and nothing counted) at the limit. */
  acquire(key: string): boolean {
    const n = this.#inFlight.get(key) ?? 0
    if (n >= this.max) return false
    this.#inFlight.set(key, n + 1)
    return true
  }

  release(key: string): void {
    const n = this.#inFlight.get(key) ?? 0
    if (n <= 1) this.#inFlight.delete(key)
    else this.#inFlight.set(key, n - 1)
  }

  /** Clients with requests in flight (for tests). */
  get size(): number {
    return this.#inFlight.size
  }
}
