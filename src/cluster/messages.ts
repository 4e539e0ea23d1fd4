import type { AppConfig, Config } from '../config/index.js'
import type { TallyDelta } from '../observability/metrics.js'
import type { Color, State } from '../routing/index.js'
import type { MirrorReport } from './mirror-relay.js'

/*
 * The IPC between the primary (control plane) and its workers (data plane),
 * with `workers` > 1. Nothing here is sent per request: the primary sends
 * states and configs when they change, a worker sends its counts in one
 * batch every REPORT_MS. Dark launch: the copies' counts ride in the same
 * batch, with a bounded number of answer pairs to compare (mirror-relay.ts).
 *
 * ```
 *   primary                                  worker
 *                                ◄───────────  hello (its message handler is in place)
 *     init {apps, listeners, …}  ───────────►  build the data plane, listen
 *                                ◄───────────  ready {applied}
 *     state {app, state}         ───────────►  compile, swap the table
 *                                ◄───────────  applied {app, version}
 *     apps {apps, defaultApp, limits} ──────►  setApps (reload)
 *     listen {id, host, port}    ───────────►  one more listener
 *                                ◄───────────  listening {id, port}
 *                                ◄───────────  report {apps: deltas, mirror, targets, inFlight}   every REPORT_MS
 *     drain {graceMs}            ───────────►  close(grace), last report, exit 0
 * ```
 */

/** How often a worker sends its counts (ms): the error windows and /metrics lag by at most this. */
export const REPORT_MS = 250

/** One app as a worker needs it: its resolved config and the state to route by. */
export interface WorkerApp {
  config: AppConfig
  state: State
}

export interface ListenerSpec {
  id: number
  host: string
  port: number
  preview: boolean
  /** each worker binds its own socket with SO_REUSEPORT (else: node:cluster's shared handle) */
  reusePort: boolean
}

export type ToWorker =
  | {
      t: 'init'
      apps: WorkerApp[]
      defaultApp: string | null
      limits: Config['limits']
      trustForwarded: boolean
      accessLog: boolean
      logLevel: string
      listeners: ListenerSpec[]
    }
  | { t: 'state'; app: string; state: State }
  | { t: 'apps'; apps: WorkerApp[]; defaultApp: string | null; limits: Config['limits'] }
  | { t: 'listen'; listener: ListenerSpec }
  | { t: 'drain'; graceMs: number }

/** A worker's counts of one app since its last report. */
export interface AppReport {
  tallies: TallyDelta
  /** requests and errors per color, for the error windows: [blue requests, blue errors, green requests, green errors] */
  window: [number, number, number, number]
}

export type FromWorker =
  | { t: 'hello' }
  | { t: 'ready'; applied: Record<string, number> }
  | { t: 'applied'; app: string; version: number }
  | { t: 'listening'; id: number; host: string; port: number }
  | { t: 'listen-failed'; id: number; message: string }
  | {
      t: 'report'
      apps: Record<string, AppReport>
      /** dark launch per app, when something was mirrored since the last report */
      mirror?: Record<string, MirrorReport>
      /** passive health per app, when it changed since the last report */
      targets?: Record<string, Record<Color, { url: string; up: boolean }[]>>
      inFlight: number
    }
