import { Pool } from 'undici'
import type { Color } from '../routing/index.js'
import type { Log } from '../observability/logger.js'

/** First backoff after a target refuses a connection; doubles per failure. */
export const BACKOFF_MIN_MS = 1_000
export const BACKOFF_MAX_MS = 30_000

/** Settings every target's pool shares. */
export interface PoolSettings {
  connections: number
  connectMs: number
  headersMs: number
  bodyMs: number
}

/**
 * One upstream base URL: its keep-alive pool, the parts a raw socket needs
 * (upgrades), and its passive health. Built once at start.
 *
 * Passive health: a connect failure marks the target down until
 * `downUntil` (backoff 1 s doubling to 30 s); any response marks it up.
 *
 * Active health (`healthCheck`, see prober.ts) is kept apart in `check`:
 * only the prober sets `check.down` and only the prober clears it, so a
 * request that happens to pass does not bring an actively-failed target back
 * before `healthyAfter` passing checks. The target is routable when neither
 * says down (`up`).
 */
export class Target {
  readonly url: string
  readonly color: Color
  readonly pool: Pool
  readonly hostname: string
  readonly port: number
  readonly tls: boolean
  down = false
  downUntil = 0
  backoffMs = 0
  /** a request is trying this down target to see whether it came back */
  probing = false
  /** active health; reset when the app's health checks are off */
  readonly check: CheckState = { down: false, failures: 0, passes: 0, checkedAt: 0, error: null, running: false }

  constructor(url: string, color: Color, settings: PoolSettings) {
    const u = new URL(url)
    this.url = url
    this.color = color
    this.tls = u.protocol === 'https:'
    // URL keeps IPv6 hosts in brackets; net.connect wants them bare.
    this.hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
    this.port = u.port !== '' ? Number(u.port) : this.tls ? 443 : 80
    // Own pool per target, never the global dispatcher (STYLE.md rule 6).
    this.pool = new Pool(u.origin, {
      connections: settings.connections,
      connect: { timeout: settings.connectMs },
      headersTimeout: settings.headersMs,
      bodyTimeout: settings.bodyMs,
    })
  }

  /** Routable: neither passive nor active health says down. */
  get up(): boolean {
    return !this.down && !this.check.down
  }

  /** Records a connect failure; returns true when the target just went down. */
  markDown(now: number): boolean {
    const wasUp = !this.down
    this.backoffMs = wasUp ? BACKOFF_MIN_MS : Math.min(this.backoffMs * 2, BACKOFF_MAX_MS)
    this.down = true
    this.downUntil = now + this.backoffMs
    return wasUp
  }

  /** Records a response; returns true when the target just came back. */
  markUp(): boolean {
    if (!this.down) return false
    this.down = false
    this.backoffMs = 0
    this.downUntil = 0
    return true
  }
}

/** A target's active health, written only by the prober. */
export interface CheckState {
  /** `unhealthyAfter` checks failed in a row, and `healthyAfter` have not passed since */
  down: boolean
  /** consecutive failed checks */
  failures: number
  /** consecutive passed checks */
  passes: number
  /** ms (wall clock) of the last finished check; 0 before the first */
  checkedAt: number
  /** why the last check failed; null when it passed */
  error: string | null
  /** a check of this target is in flight (never two at once, across reloads too) */
  running: boolean
}

/**
 * The targets of one color, balanced round-robin. `pick` skips targets that
 * are down and still in backoff. When every target is down, one request at a
 * time probes the target whose backoff ends first, so a color whose only
 * target restarted comes back on the next request instead of after the whole
 * backoff, and a dead color costs one connect attempt at a time, not one per
 * request.
 */
export class TargetSet {
  readonly color: Color
  readonly targets: readonly Target[]
  /** the pool settings its targets were built with (a reload keeps the set when they are equal) */
  readonly settings: PoolSettings
  #next = 0
  /** some target is not actively down: pick skips the ones that are */
  #skipChecked = false

  constructor(color: Color, urls: readonly string[], settings: PoolSettings) {
    this.color = color
    this.settings = settings
    this.targets = Object.freeze(urls.map((u) => new Target(u, color, settings)))
  }

  /**
   * The next target to try, or null when all are down and already probed.
   * A returned target with `probing` set was chosen as the probe: the caller
   * must call `release(target)` when its request ends.
   *
   * Only a request that can be retried (`canProbe`: it has no body) is used
   * to probe a down target while another target is up: a streamed body
   * cannot be sent again, so a POST must not pay for finding out.
   */
  pick(now: number, canProbe = true): Target | null {
    const targets = this.targets
    const n = targets.length
    const start = this.#next
    this.#next = start + 1 >= n ? 0 : start + 1
    const skipChecked = this.#skipChecked
    for (let i = 0; i < n; i++) {
      let j = start + i
      if (j >= n) j -= n
      const t = targets[j]
      if (skipChecked && t.check.down) continue
      if (!t.down || (canProbe && t.downUntil <= now && !t.probing)) {
        if (t.down) t.probing = true
        return t
      }
    }
    let best: Target | null = null
    for (let i = 0; i < n; i++) {
      const t = targets[i]
      if (skipChecked && t.check.down) continue
      if (!t.probing && (best === null || t.downUntil < best.downUntil)) best = t
    }
    if (best !== null) best.probing = true
    return best
  }

  /** Sets a target's active verdict (the prober's only way to change routing). */
  setChecked(t: Target, down: boolean): void {
    t.check.down = down
    this.#skipChecked = this.targets.some((x) => x.check.down) && this.targets.some((x) => !x.check.down)
  }

  /** Forgets active health (the app's checks were switched off). */
  clearChecks(): void {
    for (const t of this.targets) Object.assign(t.check, { down: false, failures: 0, passes: 0, checkedAt: 0, error: null })
    this.#skipChecked = false
  }

  /** Ends a probe started by `pick`. */
  static release(t: Target): void {
    t.probing = false
  }
}

/** Logs health transitions; the data plane calls it on markDown/markUp. */
export function logTransition(logger: Log | undefined, t: Target, up: boolean, err?: Error): void {
  if (logger === undefined) return
  if (up) logger.info({ color: t.color, target: t.url }, 'upstream target is up again')
  else logger.warn({ color: t.color, target: t.url, err: err?.message }, 'upstream target is down')
}
