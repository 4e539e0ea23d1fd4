import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Color, State } from '../routing/index.js'
import type { RequestObserver, UpstreamErrorKind } from '../dataplane/observer.js'
import type { ChangeEvent } from '../control/types.js'

/**
 * The contract's Prometheus metrics (prefix `switchyard_`) on an own
 * registry.
 *
 * Hot path: prom-client hashes the label set on every `inc()`/`observe()`,
 * even on a cached child (measured ~170 ns per counter child `inc`, ~230 ns
 * per histogram child `observe`, with an allocation each). The observer
 * therefore only bumps numbers in typed arrays indexed by (color, status)
 * and (color, bucket) — ~15 ns, no allocation — and the prom-client metrics
 * copy those numbers when scraped (`collect`), which is the only time
 * anyone reads them.
 */

/** Latency buckets for a proxy: from a local hop (1 ms) to a slow upstream (10 s). */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])

const KINDS: readonly UpstreamErrorKind[] = ['connect', 'timeout', 'reset', 'no-target']
const COLORS: readonly Color[] = ['blue', 'green']
/** statuses are 100–599; anything else is counted under code "0" */
const CODES = 600
const NB = DURATION_BUCKETS.length

const ci = (c: Color): number => (c === 'blue' ? 0 : 1)

/**
 * Counts gathered in another process (a worker, see src/cluster), handed to
 * the primary in one message: `codes` as flat (index, count) pairs of the
 * non-zero cells, the small arrays whole.
 */
export interface TallyDelta {
  codes: number[]
  kinds: number[]
  buckets: number[]
  sums: number[]
}

/** One app's hot-path tallies, read only at scrape time (a worker batches its own and sends them). */
export class Tallies {
  readonly codes = new Float64Array(2 * CODES)
  readonly kinds = new Float64Array(2 * KINDS.length)
  /** per bucket, not cumulative; last = +Inf */
  readonly buckets = new Float64Array(2 * (NB + 1))
  readonly sums = new Float64Array(2)

  /** The data plane's per-request sink for this app; O(1), allocation-free. */
  request(color: Color, status: number, seconds: number, kind: UpstreamErrorKind | null): void {
    const c = ci(color)
    this.codes[c * CODES + (status >= 100 && status < CODES ? status : 0)]++
    let b = 0
    while (b < NB && seconds > DURATION_BUCKETS[b]) b++
    this.buckets[c * (NB + 1) + b]++
    this.sums[c] += seconds
    if (kind !== null) this.kinds[c * KINDS.length + KINDS.indexOf(kind)]++
  }

  /** The counts since the last take, as a delta; zeroes them. null when nothing was counted. */
  take(): TallyDelta | null {
    const codes: number[] = []
    for (let i = 0; i < this.codes.length; i++) {
      if (this.codes[i] !== 0) codes.push(i, this.codes[i])
    }
    if (codes.length === 0) return null
    const d: TallyDelta = { codes, kinds: Array.from(this.kinds), buckets: Array.from(this.buckets), sums: Array.from(this.sums) }
    this.codes.fill(0)
    this.kinds.fill(0)
    this.buckets.fill(0)
    this.sums.fill(0)
    return d
  }

  /** Adds a delta taken elsewhere (the primary sums its workers' batches). */
  add(d: TallyDelta): void {
    for (let i = 0; i + 1 < d.codes.length; i += 2) this.codes[d.codes[i]] += d.codes[i + 1]
    for (let i = 0; i < this.kinds.length; i++) this.kinds[i] += d.kinds[i] ?? 0
    for (let i = 0; i < this.buckets.length; i++) this.buckets[i] += d.buckets[i] ?? 0
    for (let i = 0; i < this.sums.length; i++) this.sums[i] += d.sums[i] ?? 0
  }

  /** Copies of the counts of one color (for the events stream; never on the hot path). */
  color(color: Color): ColorTallies {
    const c = ci(color)
    let requests = 0
    let errors = 0
    for (let s = 0; s < CODES; s++) {
      const n = this.codes[c * CODES + s]
      requests += n
      if (s >= 500) errors += n
    }
    return { requests, errors, buckets: this.buckets.slice(c * (NB + 1), (c + 1) * (NB + 1)) }
  }
}

/**
 * One color's counts since start, copied: requests, errors (5xx sent to the
 * client, the router's own 502/504 included) and requests per duration
 * bucket (not cumulative; bounds {@link DURATION_BUCKETS}, last = +Inf).
 */
export interface ColorTallies {
  requests: number
  errors: number
  buckets: Float64Array
}

/** Dark launch counts of one app, bumped by the shadow recorder, read when scraped. */
export interface MirrorTally {
  sent: number
  dropped: number
  error: number
  match: number
  mismatch: number
  skipped: number
}

/** The counts a worker batches for the primary (`workers` > 1): what it can know without comparing answers. */
export type MirrorCounts = Pick<MirrorTally, 'sent' | 'dropped' | 'error' | 'skipped'>

const MIRROR_RESULTS = ['sent', 'dropped', 'error'] as const
const SHADOW_RESULTS = ['match', 'mismatch', 'skipped'] as const

/** One app's metrics: its request sink and its state gauges. */
export interface AppMetrics {
  /** dark launch counts (copies and comparisons), never reset */
  readonly mirror: MirrorTally
  /** the data plane's per-request sink; O(1), allocation-free */
  readonly observer: RequestObserver
  /** the app's state-service 'change' listener (already bound) */
  readonly onChange: (e: ChangeEvent) => void
  /** sets the state gauges (live_color, canary_percent, …) from a snapshot, e.g. at start */
  setState(state: State): void
  /** read-only copies of the request tallies per color (the events stream diffs them) */
  snapshot(): Record<Color, ColorTallies>
  /** adds the counts a worker process gathered (workers > 1) */
  absorb(delta: TallyDelta): void
}

export interface Metrics {
  /** the registry to serve at GET /metrics (`registry.metrics()`, `registry.contentType`) */
  readonly registry: Registry
  /** the metrics of an app, created on first use; every series carries `app` */
  app(name: string): AppMetrics
  /** drops an app's series (it was removed by a reload) */
  removeApp(name: string): void
}

export interface MetricsOptions {
  /** Node's default process metrics (default true; tests may switch them off) */
  defaultMetrics?: boolean
  /** `switchyard_build_info{version}` (default: none) */
  version?: string
}

/**
 * Creates the registry and every contract metric. Every per-app series
 * carries the label `app` (`default` for the single-app shape).
 *
 * `flips_total` and `auto_reverts_total` count the changes this instance
 * wrote (a change event with an entry), so summing over instances gives the
 * fleet total; the gauges describe the state this instance routes with.
 *
 * @example
 * const metrics = createMetrics({ version: '0.2.0' })
 * const shop = metrics.app('shop')
 * shop.setState(service.state)
 * service.on('change', shop.onChange)
 * const observer = combineObservers(windows, shop.observer)
 */
export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry()
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry })
  const tallies = new Map<string, Tallies>()
  const mirrorTallies = new Map<string, MirrorTally>()

  new Counter({
    name: 'switchyard_requests_total',
    help: 'Proxied requests by app, color and status code sent to the client',
    labelNames: ['app', 'color', 'code'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [app, t] of tallies) {
        for (let c = 0; c < 2; c++) {
          for (let s = 0; s < CODES; s++) {
            const n = t.codes[c * CODES + s]
            if (n > 0) this.inc({ app, color: COLORS[c], code: String(s) }, n)
          }
        }
      }
    },
  })

  new Counter({
    name: 'switchyard_upstream_errors_total',
    help: 'Requests the router failed itself, by app, color and kind (connect, timeout, reset, no-target)',
    labelNames: ['app', 'color', 'kind'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [app, t] of tallies) {
        for (let c = 0; c < 2; c++) {
          for (let k = 0; k < KINDS.length; k++) {
            const n = t.kinds[c * KINDS.length + k]
            if (n > 0) this.inc({ app, color: COLORS[c], kind: KINDS[k] }, n)
          }
        }
      }
    },
  })

  new TallyHistogram(registry, tallies)

  new Counter({
    name: 'switchyard_mirror_requests_total',
    help: 'Copies of live requests for the idle color (dark launch), by app and result: sent, dropped (concurrency or body size), error (failed or timed out)',
    labelNames: ['app', 'result'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [app, t] of mirrorTallies) for (const r of MIRROR_RESULTS) this.inc({ app, result: r }, t[r])
    },
  })

  new Counter({
    name: 'switchyard_shadow_comparisons_total',
    help: "Comparisons of the idle color's answers with the live ones (shadow diff), by app and result: match, mismatch, skipped",
    labelNames: ['app', 'result'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [app, t] of mirrorTallies) for (const r of SHADOW_RESULTS) this.inc({ app, result: r }, t[r])
    },
  })

  const liveColor = new Gauge({
    name: 'switchyard_live_color',
    help: 'Whether the color is live (1) or idle (0), per app',
    labelNames: ['app', 'color'],
    registers: [registry],
  })
  const canary = new Gauge({
    name: 'switchyard_canary_percent',
    help: 'Percent of users routed to the idle color',
    labelNames: ['app'],
    registers: [registry],
  })
  const version = new Gauge({
    name: 'switchyard_state_version',
    help: 'Version of the state this instance routes with',
    labelNames: ['app'],
    registers: [registry],
  })
  const flips = new Counter({
    name: 'switchyard_flips_total',
    help: 'Changes of the live color written by this instance',
    labelNames: ['app'],
    registers: [registry],
  })
  const reverts = new Counter({
    name: 'switchyard_auto_reverts_total',
    help: 'Automatic reverts written by this instance',
    labelNames: ['app'],
    registers: [registry],
  })
  const lastFlip = new Gauge({
    name: 'switchyard_last_flip_timestamp_seconds',
    help: 'Unix time of the last flip or rollback (0: never); alert on time since deploy',
    labelNames: ['app'],
    registers: [registry],
  })
  const buildInfo = new Gauge({
    name: 'switchyard_build_info',
    help: 'The running version (always 1)',
    labelNames: ['version'],
    registers: [registry],
  })
  if (opts.version !== undefined) buildInfo.set({ version: opts.version }, 1)

  const perApp = new Map<string, AppMetrics>()

  function app(name: string): AppMetrics {
    const existing = perApp.get(name)
    if (existing !== undefined) return existing
    const t = new Tallies()
    tallies.set(name, t)
    const mirror: MirrorTally = { sent: 0, dropped: 0, error: 0, match: 0, mismatch: 0, skipped: 0 }
    mirrorTallies.set(name, mirror)
    const setState = (s: State): void => {
      liveColor.set({ app: name, color: 'blue' }, s.live === 'blue' ? 1 : 0)
      liveColor.set({ app: name, color: 'green' }, s.live === 'green' ? 1 : 0)
      canary.set({ app: name }, s.canary)
      version.set({ app: name }, s.version)
      lastFlip.set({ app: name }, s.lastFlipAt === null ? 0 : Date.parse(s.lastFlipAt) / 1000)
    }
    // Zero, not absent: a query over flips of an app that never flipped finds 0.
    flips.inc({ app: name }, 0)
    reverts.inc({ app: name }, 0)
    const m: AppMetrics = {
      mirror,
      observer: t,
      setState,
      snapshot: () => ({ blue: t.color('blue'), green: t.color('green') }),
      absorb: (d) => t.add(d),
      onChange(e: ChangeEvent): void {
        setState(e.state)
        if (e.entry === null) return
        if (e.state.live !== e.previous.live) flips.inc({ app: name })
        if (e.entry.action === 'auto-revert') reverts.inc({ app: name })
      },
    }
    perApp.set(name, m)
    return m
  }

  function removeApp(name: string): void {
    if (!perApp.delete(name)) return
    tallies.delete(name)
    mirrorTallies.delete(name)
    for (const c of COLORS) liveColor.remove({ app: name, color: c })
    for (const g of [canary, version, lastFlip, flips, reverts]) g.remove({ app: name })
  }

  return { registry, app, removeApp }
}

/**
 * `switchyard_request_duration_seconds{app,color}`: a prom-client Histogram whose
 * values come from the typed-array tallies when scraped. Its own per-label
 * store stays empty; `get` (JSON) and `getForPromString` (text, read by the
 * registry) both answer from the tallies — a test parses the text output,
 * so a prom-client upgrade that changes this path fails loudly.
 */
const HISTOGRAM_NAME = 'switchyard_request_duration_seconds'
const HISTOGRAM_HELP = 'Time from request start to response end, by app and color'

class TallyHistogram extends Histogram<'app' | 'color'> {
  readonly #tallies: ReadonlyMap<string, Tallies>

  constructor(registry: Registry, tallies: ReadonlyMap<string, Tallies>) {
    super({
      name: HISTOGRAM_NAME,
      help: HISTOGRAM_HELP,
      labelNames: ['app', 'color'],
      buckets: DURATION_BUCKETS.slice(),
      registers: [registry],
    })
    this.#tallies = tallies
  }

  override async get(): ReturnType<Histogram<'app' | 'color'>['get']> {
    const name = HISTOGRAM_NAME
    const values: Awaited<ReturnType<Histogram<'app' | 'color'>['get']>>['values'] = []
    for (const [app, t] of this.#tallies) {
      for (let c = 0; c < 2; c++) {
        const color = COLORS[c]
        let cumulative = 0
        for (let b = 0; b <= NB; b++) {
          cumulative += t.buckets[c * (NB + 1) + b]
          const le = b < NB ? String(DURATION_BUCKETS[b]) : '+Inf'
          values.push({ labels: { app, color, le } as Record<string, string>, value: cumulative, metricName: `${name}_bucket` })
        }
        values.push({ labels: { app, color }, value: t.sums[c], metricName: `${name}_sum` })
        values.push({ labels: { app, color }, value: cumulative, metricName: `${name}_count` })
      }
    }
    // The shape prom-client's own Histogram answers (type is a string at run time).
    return { name, help: HISTOGRAM_HELP, type: 'histogram' as never, aggregator: 'sum', collect: undefined as never, values }
  }

  /** prom-client 15's Registry reads text output through this when present. */
  getForPromString(): ReturnType<Histogram<'app' | 'color'>['get']> {
    return this.get()
  }
}

/**
 * One observer that feeds several (error windows and metrics). Built once;
 * a request costs one call per observer and no allocation.
 */
export function combineObservers(...observers: RequestObserver[]): RequestObserver {
  if (observers.length === 1) return observers[0]
  if (observers.length === 2) {
    const [a, b] = observers
    return {
      request(color, status, seconds, kind) {
        a.request(color, status, seconds, kind)
        b.request(color, status, seconds, kind)
      },
    }
  }
  const list = observers.slice()
  return {
    request(color, status, seconds, kind) {
      for (let i = 0; i < list.length; i++) list[i].request(color, status, seconds, kind)
    },
  }
}
