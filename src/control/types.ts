import type { Change, Color, HistoryEntry, State } from '../routing/index.js'

/** One smoke check's outcome. */
export interface SmokeCheckResult {
  path: string
  /** the target base URL the check ran against */
  target: string
  ok: boolean
  status: number | null
  /** why it failed: wrong status, body mismatch, timeout, connect error */
  error: string | null
  ms: number
}

export interface SmokeReport {
  color: Color
  ok: boolean
  checks: SmokeCheckResult[]
}

/** Runs the configured smoke checks against a color's targets. */
export interface SmokeGate {
  run(color: Color): Promise<SmokeReport>
}

/**
 * Tells whether every live instance applied a version (Redis). The file
 * store has one instance, which applied it by the time commit returns.
 */
export interface Convergence {
  /** waits a bounded time; true when all live instances applied `version` */
  wait(version: number): Promise<boolean>
}

/** Who asks for a write, and under which conditions. */
export interface WriteOptions {
  actor: string
  reason?: string | null
  /** the version the caller read (If-Match); a stale one gets VERSION_MISMATCH */
  ifMatch?: number
  /** skip the smoke gate */
  force?: boolean
}

export interface WriteResult {
  /** false when the write asked for what already was (nothing stored) */
  changed: boolean
  state: State
  entry: HistoryEntry | null
  /** whether all instances applied the new version; null when nothing changed */
  converged: boolean | null
}

/** A pure state transition, as applied by `StateService.update`. */
export type Transition = (state: State) => Change | null

/** Emitted by the state service after each stored change, local or remote. */
export interface ChangeEvent {
  /** the app whose state changed */
  app: string
  state: State
  previous: State
  /** null for a change that arrived from another instance */
  entry: HistoryEntry | null
}
