import { Agent } from 'undici'
import type { HealthCheckConfig } from '../config/schema.js'
import type { Target, TargetSet } from './targets.js'

/** One check's outcome: null when it passed, else why it failed. */
export type CheckResult = string | null

/** What a prober needs besides the settings; tests inject all of it. */
export interface ProberDeps {
  /** wall clock in ms (checkedAt) */
  now: () => number
  /** [0, 1): spreads the apps' rounds so they do not all fire at once */
  random: () => number
  /** a verdict changed: the target went down (`up` false) or came back */
  transition: (t: Target, up: boolean, detail: string) => void
  /** runs one check; default: a GET with the prober's own undici Agent */
  check?: (t: Target) => Promise<CheckResult>
}

/**
 * Active health checks of one app: one timer for the app (not per target,
 * never per request) that checks every target of both colors each round.
 *
 * - a check is `GET <target><path>` through the prober's own small Agent
 *   (never the data plane's pools, so checks neither queue behind traffic
 *   nor hold its connections), `Connection: close`, bounded by `timeoutMs`;
 *   2xx and 3xx pass, anything else (status, connect error, timeout) fails;
 * - a target whose check is still running is not checked again that round;
 * - `unhealthyAfter` failures in a row mark it down, `healthyAfter` passes
 *   in a row mark it up (TargetSet.setChecked); a passing check also ends a
 *   passive backoff, as it just proved the target accepts connections.
 *
 * Rounds are `intervalMs` apart ±10 %, the first one after a random share of
 * an interval. The counts live on the targets, so a reload that keeps a
 * target set keeps its verdicts; the old prober is stopped before the new
 * one starts and a check it still had running is not counted.
 */
export class HealthProber {
  readonly #settings: HealthCheckConfig & { path: string }
  readonly #sets: readonly TargetSet[]
  readonly #deps: ProberDeps
  readonly #check: (t: Target) => Promise<CheckResult>
  #agent: Agent | null = null
  #timer: NodeJS.Timeout | null = null
  #stopped = false

  constructor(settings: HealthCheckConfig & { path: string }, sets: readonly TargetSet[], deps: ProberDeps) {
    this.#settings = settings
    this.#sets = sets
    this.#deps = deps
    this.#check = deps.check ?? ((t) => this.#get(t))
  }

  /** Starts the rounds. */
  start(): void {
    if (this.#stopped || this.#timer !== null) return
    this.#schedule(this.#deps.random() * this.#settings.intervalMs)
  }

  /** Stops the rounds and closes the checks' connections; running checks are not counted. */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    const agent = this.#agent
    this.#agent = null
    if (agent !== null) await agent.destroy()
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = null
      void this.round()
      if (!this.#stopped) this.#schedule(this.#settings.intervalMs * (0.9 + 0.2 * this.#deps.random()))
    }, ms)
    this.#timer.unref()
  }

  /** One round: checks every target not already being checked; resolves when they have all finished. */
  round(): Promise<void> {
    const running: Promise<void>[] = []
    for (const set of this.#sets) {
      for (const t of set.targets) {
        if (t.check.running) continue
        running.push(this.#one(set, t))
      }
    }
    return Promise.all(running).then(() => undefined)
  }

  async #one(set: TargetSet, t: Target): Promise<void> {
    t.check.running = true
    let result: CheckResult
    try {
      result = await this.#check(t)
    } catch (err) {
      result = (err as Error).message
    } finally {
      t.check.running = false
    }
    if (!this.#stopped) this.record(set, t, result)
  }

  /** Counts one check's result and flips the verdict at the thresholds. */
  record(set: TargetSet, t: Target, result: CheckResult): void {
    const c = t.check
    c.checkedAt = this.#deps.now()
    c.error = result
    if (result === null) {
      c.failures = 0
      c.passes++
      if (t.down) t.markUp()
      if (c.down && c.passes >= this.#settings.healthyAfter) {
        set.setChecked(t, false)
        this.#deps.transition(t, true, `${c.passes} health checks passed`)
      }
    } else {
      c.passes = 0
      c.failures++
      if (!c.down && c.failures >= this.#settings.unhealthyAfter) {
        set.setChecked(t, true)
        this.#deps.transition(t, false, `${c.failures} health checks failed, last: ${result}`)
      }
    }
  }

  async #get(t: Target): Promise<CheckResult> {
    const s = this.#settings
    this.#agent ??= new Agent({ connections: 1, connect: { timeout: s.timeoutMs }, headersTimeout: s.timeoutMs, bodyTimeout: s.timeoutMs })
    try {
      const res = await this.#agent.request({
        origin: t.url,
        path: s.path,
        method: 'GET',
        headers: { 'user-agent': 'switchyard-health-check' },
        reset: true,
        signal: AbortSignal.timeout(s.timeoutMs),
      })
      await res.body.dump()
      return res.statusCode >= 200 && res.statusCode < 400 ? null : `status ${res.statusCode}`
    } catch (err) {
      const e = err as Error & { code?: string; cause?: { code?: string } }
      if (e.name === 'TimeoutError') return `no answer in ${s.timeoutMs} ms`
      return e.code ?? e.cause?.code ?? e.message
    }
  }
}
