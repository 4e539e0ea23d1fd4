import type { Color, RoutingTable } from '../routing/index.js'

/** Why the router itself failed a request towards an upstream. */
export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'no-target'

/**
 * The data plane's only outward channel: one call per finished proxied
 * request. The control plane (error windows) and metrics implement it; the
 * data plane never imports them.
 */
export interface RequestObserver {
  /**
   * @param status the status sent to the client (502/504 for the router's own errors)
   * @param seconds time from request start to response end
   * @param kind set when the router failed the request itself, or the upstream reset mid-response
   */
  request(color: Color, status: number, seconds: number, kind: UpstreamErrorKind | null): void
}

/** Where the data plane reads the current routing table, once per request. */
export interface TableSource {
  readonly table: RoutingTable
}

/** What became of a copy sent to the idle color. */
export type MirrorResult = 'sent' | 'dropped' | 'error'

/** One side's answer to a mirrored request, as captured for the shadow diff. */
export interface ShadowAnswer {
  status: number
  /** lower-case name → value, only content-type and the compared headers */
  headers: Readonly<Record<string, string>>
  /** the body, or null when it was larger than `mirror.maxBodyBytes` (not compared) */
  body: Buffer | null
}

/** Both answers to one mirrored request. */
export interface ShadowPair {
  method: string
  /** the request target as the client sent it */
  url: string
  /** the color the copy went to */
  idle: Color
  live: ShadowAnswer
  idleAnswer: ShadowAnswer
}

/**
 * The dark launch's outward channel: copies sent, dropped or failed, and the
 * answers to compare. Called off the live response's path (after the live
 * answer ended), never for requests that are not mirrored.
 */
export interface MirrorObserver {
  mirror(result: MirrorResult): void
  /** both sides answered (compare enabled) */
  answers(pair: ShadowPair): void
  /** a mirrored request whose answers cannot be compared (the live request failed) */
  skipped(): void
}
