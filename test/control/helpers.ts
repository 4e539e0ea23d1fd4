import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { HistoryEntry, State } from '../../src/routing/index.js'

/** A fresh temp directory removed when the test ends. */
export async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A fixed clock that moves only when told. */
export function fakeClock(start = Date.parse('2025-01-01T00:00:00Z')): { now: () => number; advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => { t += ms } }
}

export function stateV(version: number, over: Partial<State> = {}): State {
  return {
    version,
    live: 'blue',
    previous: null,
    canary: 0,
    cohorts: [],
    rollout: null,
    updatedAt: '2025-01-01T00:00:00.000Z',
    lastFlipAt: null,
    ...over,
  }
}

export function entryV(version: number, over: Partial<HistoryEntry> = {}): HistoryEntry {
  return {
    at: '2025-01-01T00:00:00.000Z',
    version,
    action: 'canary',
    from: 0,
    to: version,
    actor: 'test',
    reason: null,
    ...over,
  }
}
