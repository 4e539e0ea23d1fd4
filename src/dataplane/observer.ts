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
