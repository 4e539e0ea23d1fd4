import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Color } from '../routing/index.js'
import type { RequestObserver, TableSource, UpstreamErrorKind } from './observer.js'
import type { ProxyContext } from './proxy-request.js'
import { buildReplies, type Replies } from './replies.js'
import { TargetSet, type PoolSettings, type Target } from './targets.js'
import type { AppPlaneOptions } from './types.js'
import type { UpgradeContext } from './upgrade.js'
import { MirrorPlane } from './mirror.js'
import type { ClientLimit } from './client-limit.js'
import { HealthProber } from './prober.js'
import type { WaitQueue } from './wait-queue.js'

/** What an app's requests need from the data plane that owns every app. */
export interface PlaneHost {
  readonly closing: boolean
  /** requests waiting for an upstream connection, across apps */
  readonly waiting: WaitQueue
  /** requests in flight per client, across apps */
  readonly clients: ClientLimit | null
  /** upgrade requests (pending or tunnelled) at most, across apps */
  readonly maxTunnels: number
  tunnels(): number
  now(): number
  finished(
    app: AppRoute,
    color: Color,
    status: number,
    start: number,
    kind: UpstreamErrorKind | null,
    req: IncomingMessage,
    cohort: string | null,
  ): void
  responseClosed(): void
  bug(err: unknown): void
  healthChanged(t: Target, up: boolean, err?: Error): void
  /** an active health check changed a target's verdict */
  healthChecked(app: string, t: Target, up: boolean, detail: string): void
  /** [0, 1): spreads the health check rounds */
  random(): number
  track(socket: Duplex): void
}

/**
 * One app as the data plane sees it: where its routing table comes from, its
 * target sets (one undici pool per target), its prebuilt replies and its
 * observer. It is the context of its own requests (ProxyContext,
 * UpgradeContext), so a request reaches its app's settings without a lookup.
 *
 * Built once per config; a reload builds new routes and hands over the
 * target sets whose targets and pool settings did not change, so their
 * pools, keep-alive connections and passive health carry on.
 */
export class AppRoute implements ProxyContext, UpgradeContext {
  readonly name: string
  readonly hosts: readonly string[]
  readonly source: TableSource
  readonly sets: Readonly<Record<Color, TargetSet>>
  readonly replies: Readonly<Record<Color, Replies>>
  readonly exposeColor: boolean
  readonly trustForwarded: boolean
  readonly connectMs: number
  readonly headersMs: number
  readonly bodyIdleMs: number
  readonly tunnelIdleMs: number
  readonly settings: PoolSettings
  /** dark launch: the copies' own pools and bounds; null when the app has no mirror settings */
  readonly mirror: MirrorPlane | null
  /** active health checks; null when `healthCheck.path` is not set. Started and stopped by the data plane. */
  readonly prober: HealthProber | null
  readonly #host: PlaneHost
  readonly #observer: RequestObserver | undefined

  constructor(host: PlaneHost, o: AppPlaneOptions, connections: number, reuse?: AppRoute) {
    this.#host = host
    this.name = o.name
    this.hosts = o.hosts
    this.source = o.source
    this.#observer = o.observer
    this.exposeColor = o.exposeColor
    this.trustForwarded = o.trustForwarded
    this.connectMs = o.timeouts.connectMs
    this.headersMs = o.timeouts.headersMs
    this.bodyIdleMs = o.timeouts.bodyIdleMs
    this.tunnelIdleMs = o.timeouts.tunnelIdleMs
    this.settings = Object.freeze({
      connections,
      connectMs: o.timeouts.connectMs,
      headersMs: o.timeouts.headersMs,
      bodyMs: o.timeouts.bodyMs,
    })
    const set = (c: Color): TargetSet => {
      const old = reuse?.sets[c]
      const urls = o.upstreams[c].targets
      return old !== undefined && sameSettings(old, this.settings, urls) ? old : new TargetSet(c, urls, this.settings)
    }
    this.sets = Object.freeze({ blue: set('blue'), green: set('green') })
    const hc = o.healthCheck
    if (hc?.path !== undefined) {
      const path = hc.path
      this.prober = new HealthProber({ ...hc, path }, [this.sets.blue, this.sets.green], {
        now: () => host.now(),
        random: () => host.random(),
        transition: (t, up, detail) => host.healthChecked(this.name, t, up, detail),
      })
    } else {
      this.prober = null
      // Checks switched off by a reload: a verdict nobody will revise must not keep a target out.
      this.sets.blue.clearChecks()
      this.sets.green.clearChecks()
    }
    const m = o.mirror
    const old = reuse?.mirror ?? null
    this.mirror =
      m === undefined
        ? null
        : old !== null && old.sameAs(o.upstreams, m.settings, m.observer)
          ? old
          : new MirrorPlane(o.upstreams, m.settings, m.observer)
    this.replies = Object.freeze({
      blue: buildReplies(o.exposeColor ? 'blue' : null),
      green: buildReplies(o.exposeColor ? 'green' : null),
    })
  }

  get closing(): boolean {
    return this.#host.closing
  }

  get waiting(): WaitQueue {
    return this.#host.waiting
  }

  get clients(): ClientLimit | null {
    return this.#host.clients
  }

  get maxTunnels(): number {
    return this.#host.maxTunnels
  }

  tunnels(): number {
    return this.#host.tunnels()
  }

  now(): number {
    return this.#host.now()
  }

  finished(color: Color, status: number, start: number, kind: UpstreamErrorKind | null, req: IncomingMessage, cohort: string | null): void {
    this.#host.finished(this, color, status, start, kind, req, cohort)
  }

  /** Reports a finished request to this app's observer (error windows, metrics). */
  report(color: Color, status: number, seconds: number, kind: UpstreamErrorKind | null): void {
    if (this.#observer !== undefined) this.#observer.request(color, status, seconds, kind)
  }

  get observed(): boolean {
    return this.#observer !== undefined
  }

  observe(color: Color, status: number, start: number, kind: UpstreamErrorKind | null): void {
    if (this.#observer !== undefined) this.#observer.request(color, status, (performance.now() - start) / 1000, kind)
  }

  responseClosed(): void {
    this.#host.responseClosed()
  }

  bug(err: unknown): void {
    this.#host.bug(err)
  }

  healthChanged(t: Target, up: boolean, err?: Error): void {
    this.#host.healthChanged(t, up, err)
  }

  track(socket: Duplex): void {
    this.#host.track(socket)
  }
}

function sameSettings(set: TargetSet, s: PoolSettings, urls: readonly string[]): boolean {
  const old = set.settings
  return (
    old.connections === s.connections &&
    old.connectMs === s.connectMs &&
    old.headersMs === s.headersMs &&
    old.bodyMs === s.bodyMs &&
    set.targets.length === urls.length &&
    set.targets.every((t, i) => t.url === urls[i])
  )
}
