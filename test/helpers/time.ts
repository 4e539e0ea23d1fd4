import { T0_ISO } from './state.js'

/** Time in tests: one fake clock, one sleep. */

/** 2025-01-01T00:00:00Z in epoch ms: where every fake clock starts unless told. */
export const T0 = Date.parse(T0_ISO)

/** A clock (epoch ms) that moves only when told. */
export function fakeClock(start = T0): { now: () => number; advance: (ms: number) => void; set: (ms: number) => void } {
  let t = start
  return {
    now: () => t,
    advance: (ms) => {
      t += ms
    },
    set: (ms) => {
      t = ms
    },
  }
}

/** Resolves after `ms` (real time). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
