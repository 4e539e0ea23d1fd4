import type { AppConfig, Config } from '../config/schema.js'
import type { Log } from '../observability/logger.js'
import type { Color } from '../routing/index.js'
import type { MirrorObserver, RequestObserver, TableSource } from './observer.js'

/** @deprecated the one logger interface is `Log` (observability/logger.ts); this name stays for older imports */
export type Logger = Log

/** One app as the data plane needs it. */
export interface AppPlaneOptions {
  name: string
  /** lower-case exact names and `*.` wildcards (validated by the config) */
  hosts: readonly string[]
  upstreams: AppConfig['upstreams']
  timeouts: AppConfig['timeouts']
  /** `headers.exposeColor`: add x-switchyard-color to responses */
  exposeColor: boolean
  /** `headers.trustForwarded`: keep client-sent x-forwarded-* */
  trustForwarded: boolean
  /** read `source.table` once per request, so a flip is atomic */
  source: TableSource
  /** one call per finished request of this app */
  observer?: RequestObserver
  /** dark launch: `mirror` settings and where copies and answers are reported; absent: never mirrored */
  mirror?: { settings: AppConfig['mirror']; observer: MirrorObserver }
  /** active health checks; absent or without `path`: none */
  healthCheck?: AppConfig['healthCheck']
}

/** The apps and which one serves unknown hosts; swapped whole by `setApps`. */
export interface AppsOptions {
  apps: readonly AppPlaneOptions[]
  /** the app for hosts no app names; null: 404 UNKNOWN_HOST */
  defaultApp: string | null
}

/** What `createDataPlane` needs; everything is read once at start (apps also on reload). */
export interface DataPlaneOptions extends AppsOptions {
  limits: Config['limits']
  /**
   * `log.access`: called once per finished request with what an access log
   * line needs. Absent: no access log, and nothing is gathered for it.
   */
  accessLog?: (entry: AccessLogEntry) => void
  /** top-level `headers.trustForwarded`: the per-client limit may key clients by x-forwarded-for (default true) */
  trustForwarded?: boolean
  /** stickiness id generator; default `crypto.randomUUID()` */
  newId?: () => string
  /** [0, 1) per mirrored-app request, for the mirror sample; default `Math.random` */
  random?: () => number
  /** wall clock in ms for target backoff; default `Date.now` */
  now?: () => number
  logger?: Log
}

/** Health of one target. */
export interface TargetHealth {
  url: string
  /** routable: neither a failed connect (passive) nor the health checks (active) say down */
  up: boolean
  /** active health checks; absent when the app has none */
  check?: {
    up: boolean
    /** ISO time of the last finished check; null before the first */
    checkedAt: string | null
    /** consecutive failed checks */
    failures: number
    /** consecutive passed checks */
    passes: number
    /** why the last check failed; null when it passed */
    error: string | null
  }
}

export interface ListenOptions {
  /** every request goes to the idle color (DESIGN "Preview listener") */
  preview?: boolean
  /**
   * bind an own socket with SO_REUSEPORT (Node ≥ 22.12 / 23.1), so the kernel
   * spreads connections over the processes listening on the port (workers)
   */
  reusePort?: boolean
}

/** A running data plane: listeners, upstream pools and their health. */
export interface DataPlane {
  /** Starts a listener; resolves with the bound address (port 0 = any free port). */
  listen(host: string, port: number, opts?: ListenOptions): Promise<{ host: string; port: number }>
  /** Health per color of an app (passive, and active when it has health checks); null for an app it does not serve. */
  targets(app: string): Record<Color, TargetHealth[]> | null
  /**
   * Serves a new set of apps from the next request on (reload). Requests in
   * flight finish on the app they started with; target sets whose targets
   * and settings did not change are kept (pools, health); pools no app uses
   * any more are drained (closed after their requests finish). New
   * `limits` apply to new requests and pools (not to the listeners' header
   * size and keep-alive, which need a restart).
   */
  setApps(apps: AppsOptions, limits?: Config['limits']): void
  /** Requests in flight (upgraded sockets not included). */
  inFlight(): number
  /**
   * Stops accepting, lets in-flight requests and upgraded sockets finish for
   * up to `graceMs`, then destroys what is left and closes the pools.
   */
  close(graceMs: number): Promise<void>
}

/** One line of the access log. */
export interface AccessLogEntry {
  app: string
  method: string
  /** the request target as the client sent it (path and query) */
  url: string
  status: number
  color: Color
  cohort: string | null
  /** ms from the request's arrival to its end */
  ms: number
  /** client address */
  ip: string | undefined
  /** set when the router failed the request itself (connect, timeout, reset, no-target) */
  kind: string | null
}
