import type { HistoryEntry, State } from '../../src/routing/index.js'

/** Test fixtures for states and history entries, shared by every area's tests. */

export const T0_ISO = '2025-01-01T00:00:00.000Z'

/** A state at `version` (blue live unless told otherwise). */
export function stateV(version: number, over: Partial<State> = {}): State {
  return {
    version,
    live: 'blue',
    previous: null,
    canary: 0,
    cohorts: [],
    rollout: null,
    updatedAt: T0_ISO,
    lastFlipAt: null,
    mirror: 0,
    ...over,
  }
}

/** A history entry for `version`. */
export function entryV(version: number, over: Partial<HistoryEntry> = {}): HistoryEntry {
  return { at: T0_ISO, version, action: 'canary', from: 0, to: version, actor: 'test', reason: null, ...over }
}
