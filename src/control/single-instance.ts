import { hostname } from 'node:os'
import type { Convergence } from './types.js'

/*
 * Kept apart from the Redis registry (instances.ts) so a file-store router
 * never loads ioredis.
 */

/** One live router instance, as listed by `GET /v1/instances`. */
export interface InstanceInfo {
  id: string
  /**
   * the state version this instance routes by: of the only app, or of the
   * default (else first) app when there are several; see `apps`
   */
  appliedVersion: number
  /** app → the state version this instance routes that app by */
  apps?: Record<string, number>
  /** ISO time of its last heartbeat (its own clock) */
  lastSeen: string
  host: string
  pid: number
}

/** Who is in the fleet, and whether they all applied a version. */
export interface InstanceRegistry extends Convergence {
  readonly id: string
  /** registers this instance and starts the heartbeat */
  start(): Promise<void>
  /** stops the heartbeat and removes this instance from the list */
  stop(): Promise<void>
  /** heartbeat now, e.g. right after applying a new version (never throws) */
  touch(): void
  /** live instances, sorted by id; STORE_UNAVAILABLE when Redis cannot be reached */
  list(): Promise<InstanceInfo[]>
  /**
   * true once every live instance applied `version` (of `app` when given:
   * instances that do not serve that app are not asked); false after `timeoutMs`
   */
  wait(version: number, timeoutMs?: number, app?: string): Promise<boolean>
}

/** Whether `i` applied `version` of `app`; null when it does not serve the app. */
export function appliedApp(i: InstanceInfo, version: number, app: string | undefined): boolean | null {
  if (app === undefined || i.apps === undefined) return i.appliedVersion >= version
  const v = i.apps[app]
  return v === undefined ? null : v >= version
}

/**
 * The registry of a lone instance (file store): the list is this process,
 * and every version it stored is applied by the time `wait` is asked.
 */
export function singleInstance(
  id: string,
  appliedVersion: () => number,
  clock: () => number = Date.now,
  host: string = hostname(),
  pid: number = process.pid,
  apps?: () => Record<string, number>,
): InstanceRegistry {
  return {
    id,
    async start() {},
    async stop() {},
    touch() {},
    async list() {
      const info: InstanceInfo = { id, appliedVersion: appliedVersion(), lastSeen: new Date(clock()).toISOString(), host, pid }
      if (apps !== undefined) info.apps = apps()
      return [info]
    },
    async wait() {
      return true
    },
  }
}
