/**
 * Test harness for the data plane: a blue and a green upstream, a routing
 * table holder the test can swap, a recording observer, and a proxy on a
 * free port. Everything is closed in t.teardown.
 */
import {
  compile,
  initialState,
  type Cohort,
  type Color,
  type RoutingOptions,
  type RoutingTable,
  type State,
} from '../../src/routing/index.js'
import {
  createDataPlane,
  type AppPlaneOptions,
  type DataPlane,
  type DataPlaneOptions,
  type TargetHealth,
  type UpstreamErrorKind,
} from '../../src/dataplane/index.js'
import { startUpstream, type Upstream } from './upstream.js'

/** The part of tap's Test the harness uses. */
export interface Teardown {
  teardown(fn: () => unknown): void
}

export interface Seen {
  color: Color
  status: number
  seconds: number
  kind: UpstreamErrorKind | null
}

/** A table holder and an observer that records every call, with a waiter. */
export class Recorder {
  readonly calls: Seen[] = []
  #waiters: { n: number; resolve: () => void }[] = []

  request(color: Color, status: number, seconds: number, kind: UpstreamErrorKind | null): void {
    this.calls.push({ color, status, seconds, kind })
    this.#waiters = this.#waiters.filter((w) => {
      if (this.calls.length >= w.n) w.resolve()
      return this.calls.length < w.n
    })
  }

  /** resolves once `n` calls were recorded in total */
  until(n: number): Promise<void> {
    if (this.calls.length >= n) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ n, resolve }))
  }
}

export interface StateBits {
  live?: Color
  canary?: number
  cohorts?: Cohort[]
  version?: number
}

export function stateOf(bits: StateBits = {}): State {
  const s = initialState(bits.live ?? 'blue', '2026-01-01T00:00:00.000Z')
  return { ...s, version: bits.version ?? 1, canary: bits.canary ?? 0, cohorts: bits.cohorts ?? [] }
}

export const NO_OPTIONS: RoutingOptions = {
  stickiness: { header: null, cookie: null },
  overrides: { enabled: false, secret: null },
}

export interface Setup {
  blue: Upstream
  green: Upstream
  dp: DataPlane
  url: string
  /** the mutable table holder the data plane reads */
  source: { table: RoutingTable }
  recorder: Recorder
  setState(bits: StateBits): void
  /** passive health of the one app (`default`) */
  targets(): Record<Color, TargetHealth[]>
}

/** The one app's options a test may override (name, hosts and source are the harness's). */
export type AppOverrides = Partial<Omit<AppPlaneOptions, 'name' | 'hosts' | 'source'>>

export interface SetupOptions {
  state?: StateBits
  routing?: RoutingOptions
  /**
   * overrides of the data plane's options and of its one app's (upstreams
   * default to blue/green); the app is `default`, with no hosts, and is the
   * default app (it serves every host)
   */
  dp?: Partial<Omit<DataPlaneOptions, 'apps' | 'defaultApp'>> & AppOverrides
  preview?: boolean
}

export const TIMEOUTS = { connectMs: 5_000, headersMs: 30_000, bodyMs: 30_000, bodyIdleMs: 30_000, tunnelIdleMs: 300_000 }
export const LIMITS = {
  maxHeaderBytes: 16_384,
  maxBodyBytes: 0,
  keepAliveTimeoutMs: 5_000,
  connectionsPerTarget: 16,
  queueTimeoutMs: 10_000,
  maxInFlightPerClient: 0,
  maxTunnels: 10_000,
}

/** Starts two upstreams and a data plane in front of them. */
export async function setup(t: Teardown, o: SetupOptions = {}): Promise<Setup> {
  const blue = await startUpstream({ color: 'blue' })
  t.teardown(() => blue.close())
  const green = await startUpstream({ color: 'green' })
  t.teardown(() => green.close())
  const routing = o.routing ?? NO_OPTIONS
  const source = { table: compile(stateOf(o.state), routing) }
  const recorder = new Recorder()
  let n = 0
  const { upstreams, timeouts, exposeColor, trustForwarded, observer, ...plane } = o.dp ?? {}
  const app: AppPlaneOptions = {
    name: 'default',
    hosts: [],
    upstreams: upstreams ?? { blue: { targets: [blue.url] }, green: { targets: [green.url] } },
    timeouts: timeouts ?? TIMEOUTS,
    exposeColor: exposeColor ?? true,
    trustForwarded: trustForwarded ?? true,
    source,
    observer: observer ?? recorder,
  }
  const dp = createDataPlane({
    apps: [app],
    defaultApp: 'default',
    limits: LIMITS,
    newId: () => `id-${++n}`,
    ...plane,
  })
  t.teardown(() => dp.close(0))
  const addr = await dp.listen('127.0.0.1', 0, { preview: o.preview === true })
  return {
    blue,
    green,
    dp,
    url: `http://127.0.0.1:${addr.port}`,
    source,
    recorder,
    setState(bits) {
      source.table = compile(stateOf(bits), routing)
    },
    targets() {
      const health = dp.targets('default')
      if (health === null) throw new Error('the data plane does not serve the app default')
      return health
    },
  }
}
