import { BUCKETS } from './bucket.js'
import type { Decision, RoutingTable } from './types.js'

/**
 * Dark launch: whether a request is copied to the idle color. Pure: the
 * randomness comes in as `draw`, an integer in [0, 10000) drawn per request
 * by the caller (the data plane draws `Math.random`, tests pass numbers).
 *
 * Only the `live` rule's requests are mirrored (not canary, cohort, override
 * or preview traffic), only the table's methods, and `draw < mirrorBp`.
 *
 * Why a random draw per request rather than the stickiness bucket: the
 * sample should be a fair share of the traffic across routes and users,
 * not every request of a fixed 10% of users; and a bucket needs a key, which
 * for users without one means issuing a `switchyard-id` cookie — a change to
 * the live response that mirroring must never make.
 *
 * The caller tests `table.mirrorBp !== 0` first, so a router that mirrors
 * nothing pays one branch and no draw.
 *
 * @example
 * if (table.mirrorBp !== 0 && mirrored(table, d, req.method, Math.floor(Math.random() * BUCKETS))) copy()
 */
export function mirrored(table: RoutingTable, d: Decision, method: string, draw: number): boolean {
  return draw < mirrorChance(table, d, method)
}

/** A draw in [0, 10000) from a random number in [0, 1). */
export function mirrorDraw(random: number): number {
  return Math.floor(random * BUCKETS)
}

/**
 * The chance, in basis points of [0, 10000), that a request with decision
 * `d` and `method` is copied to the idle color: the table's mirror share for
 * a live-rule request of a mirrored method, else 0. What `explain` reports,
 * and the one place the rule is written: `mirrored` is this with the draw applied.
 */
export function mirrorChance(table: RoutingTable, d: Decision, method: string): number {
  return d.rule === 'live' && table.mirrorMethods.has(method) ? table.mirrorBp : 0
}
