import { isDeepStrictEqual } from 'node:util'
import type { AppConfig, Config } from '../config/index.js'

/** What a reload did: app names, and the keys that only a restart applies. */
export interface ReloadResult {
  added: string[]
  removed: string[]
  changed: string[]
  needsRestart: string[]
}

/**
 * Settings a reload cannot apply to a running process: the listeners'
 * sockets, the admin API's own settings, the store's connections, and the
 * limits node fixes when a server is created. Everything else is applied.
 */
const RESTART_KEYS = ['listen', 'preview', 'admin', 'store', 'limits.maxHeaderBytes', 'limits.keepAliveTimeoutMs', 'workers'] as const

function at(config: Config, key: string): unknown {
  let v: unknown = config
  for (const part of key.split('.')) v = v === undefined || v === null ? undefined : (v as Record<string, unknown>)[part]
  return v
}

/**
 * Compares two validated configs: which apps come, go or change (hosts,
 * targets, any section, resolved, so a top-level change shows as a change
 * of every app that inherits it), and which changed keys need a restart.
 */
export function diffConfigs(old: Config, next: Config): ReloadResult {
  const before = new Map<string, AppConfig>(old.apps.map((a) => [a.name, a]))
  const after = new Map<string, AppConfig>(next.apps.map((a) => [a.name, a]))
  const added = next.apps.filter((a) => !before.has(a.name)).map((a) => a.name)
  const removed = old.apps.filter((a) => !after.has(a.name)).map((a) => a.name)
  const changed = next.apps.filter((a) => before.has(a.name) && !isDeepStrictEqual(before.get(a.name), a)).map((a) => a.name)
  const needsRestart = RESTART_KEYS.filter((k) => !isDeepStrictEqual(at(old, k), at(next, k)))
  return { added, removed, changed, needsRestart }
}
