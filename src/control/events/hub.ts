import type { ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import { SwitchyardError } from '../../errors.js'
import type { ColorTallies } from '../../observability/metrics.js'
import type { Color, HistoryEntry, State } from '../../routing/index.js'
import type { ChangeEvent } from '../types.js'
import { colorStats } from './stats.js'
import { EventStream, frame, type StreamEnd } from './stream.js'

/** What the hub reads of an app. */
export interface EventApp {
  readonly name: string
  readonly service: { readonly state: State; history(limit: number): Promise<HistoryEntry[]> }
}

export interface EventHubOptions {
  /** the apps now (a reload changes the list) */
  apps: () => readonly EventApp[]
  /** an app's request tallies per color, copied (metrics.app(name).snapshot()) */
  tallies: (app: string) => Record<Color, ColorTallies>
  /** ms between `stats` events (default 1000) */
  statsIntervalMs?: number
  /** ms between heartbeat comments (default 15000) */
  heartbeatMs?: number
  /** open streams at most; one more answers 503 TOO_MANY_STREAMS (default 100) */
  maxStreams?: number
  /** bytes a stream may have waiting for a slow reader before it is cut off (default 1 MiB) */
  maxBufferedBytes?: number
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void }
}

export const DEFAULT_MAX_STREAMS = 100
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024

/**
 * The source of `GET /v1/events`: fans every app's changes and, every
 * second, each app's traffic per color out to the open streams.
 *
 * Nothing runs while nobody listens: a change with no stream open returns
 * at once, and the stats and heartbeat timers exist only between the first
 * stream's opening and the last one's closing. The data plane is not
 * touched: stats diff copies of the metrics' tallies, taken by the timer.
 *
 * @example
 * const hub = new EventHub({ apps: () => appSet.list(), tallies: (a) => metrics.app(a).snapshot() })
 * appChanges.on('change', (e) => hub.onChange(e))
 * const stream = hub.open(reply.raw) // after writing the SSE headers
 */
export class EventHub {
  readonly #o: Required<Omit<EventHubOptions, 'logger'>> & Pick<EventHubOptions, 'logger'>
  readonly #streams = new Set<EventStream>()
  #statsTimer: NodeJS.Timeout | null = null
  #heartbeatTimer: NodeJS.Timeout | null = null
  /** each app's tallies at the last stats tick, and when (performance.now ms) */
  #last = new Map<string, { at: number; tallies: Record<Color, ColorTallies> }>()
  #closed = false
  /** streams cut off for reading too slowly, since start */
  slowClosed = 0

  constructor(o: EventHubOptions) {
    this.#o = {
      statsIntervalMs: 1000,
      heartbeatMs: 15_000,
      maxStreams: DEFAULT_MAX_STREAMS,
      maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES,
      ...o,
    }
  }

  /** open streams */
  get size(): number {
    return this.#streams.size
  }

  /** whether the stats and heartbeat timers run (only while a stream is open) */
  get ticking(): boolean {
    return this.#statsTimer !== null
  }

  /** Refuses a new stream beyond the cap (call before answering with the stream's headers). */
  admit(): void {
    if (this.#closed) throw new SwitchyardError('TOO_MANY_STREAMS', 'The router is shutting down')
    if (this.#streams.size >= this.#o.maxStreams) {
      throw new SwitchyardError(
        'TOO_MANY_STREAMS',
        `${this.#streams.size} event streams are open, the most this router serves; try again later`,
        {
          maxStreams: this.#o.maxStreams,
        },
      )
    }
  }

  /**
   * Serves events on `res` (its SSE headers already sent): every app's
   * state first, then changes, stats and heartbeats until either side ends.
   */
  open(res: ServerResponse): EventStream {
    this.admit()
    const stream = new EventStream(res, this.#o.maxBufferedBytes, (s, why) => this.#ended(s, why))
    this.#streams.add(stream)
    stream.send(': switchyard events\nretry: 2000\n\n', false)
    for (const a of this.#o.apps()) stream.send(frame('state', { app: a.name, state: a.service.state }), false)
    if (this.#statsTimer === null) this.#start()
    return stream
  }

  /** Every change of every app (local writes with their entry, other instances' without). */
  onChange(e: ChangeEvent): void {
    if (this.#streams.size === 0) return
    this.#broadcast(frame('state', { app: e.app, state: e.state }), false)
    if (e.entry !== null) {
      this.#broadcast(frame('history', { app: e.app, entry: e.entry }), false)
      return
    }
    // A change made on another instance: its entry is in the shared store.
    const app = this.#o.apps().find((a) => a.name === e.app)
    if (app === undefined) return
    app.service.history(1).then(
      ([entry]) => {
        if (entry !== undefined && entry.version === e.state.version && this.#streams.size > 0) {
          this.#broadcast(frame('history', { app: e.app, entry: { app: e.app, ...entry } }), false)
        }
      },
      (err: unknown) =>
        this.#o.logger?.warn({ app: e.app, err: (err as Error).message }, 'events: could not read the history entry of a remote change'),
    )
  }

  /** Ends every stream and refuses new ones (shutdown). */
  close(): void {
    this.#closed = true
    for (const s of [...this.#streams]) s.close('shutdown')
    this.#stop()
  }

  #broadcast(text: string, droppable: boolean): void {
    for (const s of this.#streams) s.send(text, droppable)
  }

  #ended(s: EventStream, why: StreamEnd): void {
    this.#streams.delete(s)
    if (why === 'slow') {
      this.slowClosed++
      this.#o.logger?.warn(
        { maxBufferedBytes: this.#o.maxBufferedBytes, dropped: s.dropped },
        'events: a stream read too slowly and was closed',
      )
    }
    if (this.#streams.size === 0) this.#stop()
  }

  #start(): void {
    this.#last.clear()
    const now = performance.now()
    for (const a of this.#o.apps()) this.#last.set(a.name, { at: now, tallies: this.#o.tallies(a.name) })
    this.#statsTimer = setInterval(() => this.#tick(), this.#o.statsIntervalMs)
    this.#statsTimer.unref()
    this.#heartbeatTimer = setInterval(() => this.#broadcast(': heartbeat\n\n', true), this.#o.heartbeatMs)
    this.#heartbeatTimer.unref()
  }

  #stop(): void {
    if (this.#statsTimer !== null) clearInterval(this.#statsTimer)
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer)
    this.#statsTimer = null
    this.#heartbeatTimer = null
    this.#last.clear()
  }

  /** One `stats` event per app: each color's rps, error rate and p99 since the last tick. */
  #tick(): void {
    const now = performance.now()
    const at = new Date().toISOString()
    const next = new Map<string, { at: number; tallies: Record<Color, ColorTallies> }>()
    for (const a of this.#o.apps()) {
      const tallies = this.#o.tallies(a.name)
      next.set(a.name, { at: now, tallies })
      const before = this.#last.get(a.name)
      // An app added by a reload gets its first figures on the next tick.
      if (before === undefined) continue
      const seconds = (now - before.at) / 1000
      const colors = {
        blue: colorStats(before.tallies.blue, tallies.blue, seconds),
        green: colorStats(before.tallies.green, tallies.green, seconds),
      }
      this.#broadcast(frame('stats', { app: a.name, at, intervalSeconds: Math.round(seconds * 1000) / 1000, colors }), true)
    }
    this.#last = next
  }
}
