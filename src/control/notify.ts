import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request as undiciRequest } from 'undici'
import type { Log } from '../observability/logger.js'
import type { HistoryEntry, State } from '../routing/index.js'
import type { ChangeEvent } from './types.js'

/** What each webhook receives (JSON). `text` suits chat webhooks (Slack, Mattermost). */
export interface NotifyPayload {
  type: 'switchyard.change'
  /** the app whose state changed */
  app: string
  text: string
  entry: HistoryEntry
  state: State
}

export interface NotifierOptions {
  /** config `notify.webhooks` */
  webhooks: readonly string[]
  /** per attempt */
  timeoutMs: number
  /** further attempts after a failed one */
  retries: number
  logger: Pick<Log, 'info' | 'warn'>
  /** injected for tests; default undici `request` */
  request?: typeof undiciRequest
  /** first retry delay; doubles per attempt up to 30 s (default 500 ms) */
  backoffMs?: number
  /** deliveries waiting per receiver before the oldest is dropped (default 100) */
  maxQueue?: number
}

export interface Notifier {
  /** Queues `payload` for every webhook and returns at once; never throws. */
  notify(entry: HistoryEntry, state: State, app?: string): void
  /** state-service 'change' listener (bound): notifies this instance's own writes */
  readonly onChange: (e: ChangeEvent) => void
  /**
   * Stops taking work, lets queued deliveries finish for up to `graceMs`
   * (default 2000) without further retries, then aborts the rest.
   */
  close(graceMs?: number): Promise<void>
}

const MAX_BACKOFF_MS = 30_000

/** A one-line human summary of a change for chat receivers. */
export function summary(entry: HistoryEntry, app = entry.app ?? 'default'): string {
  const reason = entry.reason !== null ? ` (${entry.reason})` : ''
  const detail = entry.detail
  const rate =
    entry.action === 'auto-revert' && detail !== undefined && typeof detail.errorRate === 'number'
      ? `: ${String(detail.color)} error rate ${(detail.errorRate * 100).toFixed(1)}% over ${String(detail.requests)} requests`
      : ''
  const where = app === 'default' ? '' : ` ${app}:`
  return `switchyard${where} ${entry.action} ${String(entry.from)} → ${String(entry.to)} by ${entry.actor}${rate}${reason} [v${entry.version}]`
}

/**
 * POSTs every change to each webhook, fire-and-forget: `notify` only queues,
 * so neither routing nor the admin answer ever waits for a receiver. Each
 * receiver has its own FIFO queue and worker, so a dead one delays nobody
 * else; its queue is bounded (oldest dropped, logged). A delivery is retried
 * on a network error, a timeout or a non-2xx answer, with doubling backoff.
 *
 * @example
 * const notifier = createNotifier({ ...config.notify, logger })
 * service.on('change', notifier.onChange)
 * // on shutdown
 * await notifier.close()
 */
export function createNotifier(opts: NotifierOptions): Notifier {
  const request = opts.request ?? undiciRequest
  const backoffMs = opts.backoffMs ?? 500
  // At least 2: the head may be in flight and is never dropped.
  const maxQueue = Math.max(2, opts.maxQueue ?? 100)
  const agent = new Agent({ keepAliveTimeout: 4000 })
  // Aborted on close: cuts backoff sleeps and in-flight requests short.
  const stop = new AbortController()
  let closed = false

  const receivers = opts.webhooks.map((url) => ({ url, queue: [] as string[], running: null as Promise<void> | null }))

  async function attempt(url: string, body: string): Promise<string | null> {
    try {
      const res = await request(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'user-agent': 'switchyard-notify' },
        dispatcher: agent,
        signal: AbortSignal.any([stop.signal, AbortSignal.timeout(opts.timeoutMs)]),
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      })
      await res.body.dump()
      return res.statusCode >= 200 && res.statusCode < 300 ? null : `status ${res.statusCode}`
    } catch (e) {
      return (e as Error).message ?? String(e)
    }
  }

  async function work(r: (typeof receivers)[number]): Promise<void> {
    // After close, the queue still drains during the grace time (no more retries).
    while (r.queue.length > 0 && !stop.signal.aborted) {
      const body = r.queue[0]
      for (let n = 0; ; n++) {
        const error = await attempt(r.url, body)
        if (error === null) break
        if (n >= opts.retries || closed) {
          opts.logger.warn({ url: r.url, attempts: n + 1, error }, 'webhook delivery failed; giving up on this event')
          break
        }
        try {
          await sleep(Math.min(backoffMs * 2 ** n, MAX_BACKOFF_MS), undefined, { signal: stop.signal, ref: false })
        } catch {
          return // closed while waiting
        }
      }
      // The head may already have been dropped for space; remove it only if still there.
      if (r.queue[0] === body) r.queue.shift()
    }
  }

  function notify(entry: HistoryEntry, state: State, app = entry.app ?? 'default'): void {
    if (closed || receivers.length === 0) return
    const payload: NotifyPayload = { type: 'switchyard.change', app, text: summary(entry, app), entry, state }
    const body = JSON.stringify(payload)
    for (const r of receivers) {
      if (r.queue.length >= maxQueue) {
        // Index 0 may be in flight; drop the oldest one waiting behind it.
        r.queue.splice(1, 1)
        opts.logger.warn({ url: r.url, maxQueue }, 'webhook receiver is behind; dropped its oldest queued event')
      }
      r.queue.push(body)
      if (r.running === null) {
        r.running = work(r).finally(() => {
          r.running = null
        })
      }
    }
  }

  return {
    notify,
    onChange(e: ChangeEvent): void {
      // Only the instance that wrote a change tells the receivers about it.
      if (e.entry !== null) notify(e.entry, e.state, e.app)
    },
    async close(graceMs = 2000): Promise<void> {
      closed = true
      const running = receivers.map((r) => r.running).filter((p): p is Promise<void> => p !== null)
      if (running.length > 0) {
        const timer = AbortSignal.timeout(graceMs)
        await Promise.race([Promise.all(running), new Promise((resolve) => timer.addEventListener('abort', resolve))])
      }
      stop.abort()
      await Promise.all(receivers.map((r) => r.running).filter((p) => p !== null))
      await agent.destroy()
    },
  }
}
