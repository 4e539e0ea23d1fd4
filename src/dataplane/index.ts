/**
 * The data plane's door: build it with `createDataPlane`, serve with
 * `listen`, stop with `close`. It reads routing tables from a `TableSource`
 * and reports finished requests to a `RequestObserver`; it never imports the
 * control plane, the store or metrics.
 */
export { createDataPlane } from './data-plane.js'
export type {
  AccessLogEntry,
  AppPlaneOptions,
  AppsOptions,
  DataPlane,
  DataPlaneOptions,
  ListenOptions,
  Logger,
  TargetHealth,
} from './types.js'
export type { MirrorObserver, MirrorResult, RequestObserver, ShadowAnswer, ShadowPair, TableSource, UpstreamErrorKind } from './observer.js'
export { parseCookies } from '../routing/index.js'
export { COLOR_HEADER, COHORT_HEADER } from './headers.js'
export { CLIENT_CLOSED } from './proxy-request.js'
