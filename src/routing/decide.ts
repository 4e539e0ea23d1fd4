import { timingSafeEqual } from 'node:crypto'
import { BUCKETS, CANARY_SEED, bucketOf } from './bucket.js'
import type { Color, CompiledCohort, Decision, RequestFacts, RoutingTable, Rule } from './types.js'

/** Name of the cookie the router issues when a request has no stickiness key. */
export const ID_COOKIE = 'switchyard-id'
/** Header and cookie that pick a color when overrides are enabled. */
export const OVERRIDE_HEADER = 'x-switchyard-color'
export const OVERRIDE_COOKIE = 'switchyard-color'
export const OVERRIDE_SECRET_HEADER = 'x-switchyard-override-secret'

function first(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : v === undefined ? undefined : v[0]
}

/**
 * The stickiness key of a request: the configured user header, else the
 * configured user cookie, else the router's own `switchyard-id` cookie.
 * Empty values do not count as keys.
 */
export function stickinessKey(table: RoutingTable, headers: RequestFacts['headers'], cookies: RequestFacts['cookies']): string | undefined {
  if (table.stickinessHeader !== null) {
    const h = first(headers[table.stickinessHeader])
    if (h !== undefined && h !== '') return h
  }
  if (cookies !== null) {
    if (table.stickinessCookie !== null) {
      const c = cookies[table.stickinessCookie]
      if (c !== undefined && c !== '') return c
    }
    const id = cookies[ID_COOKIE]
    if (id !== undefined && id !== '') return id
  }
  return undefined
}

function asColor(v: string | undefined): Color | null {
  return v === 'blue' || v === 'green' ? v : null
}

function secretMatches(expected: Buffer, given: string | undefined): boolean {
  if (given === undefined) return false
  const b = Buffer.from(given)
  // timingSafeEqual needs equal lengths; comparing against itself keeps the
  // time independent of where a wrong secret differs.
  if (b.length !== expected.length) {
    timingSafeEqual(expected, expected)
    return false
  }
  return timingSafeEqual(b, expected)
}

function overrideColor(table: RoutingTable, facts: RequestFacts): Color | null {
  let color = asColor(first(facts.headers[OVERRIDE_HEADER]))
  if (color === null && facts.cookies !== null) color = asColor(facts.cookies[OVERRIDE_COOKIE])
  if (color === null) return null
  if (table.overrideSecret !== null && !secretMatches(table.overrideSecret, first(facts.headers[OVERRIDE_SECRET_HEADER]))) {
    return null
  }
  return color
}

function cohortFits(c: CompiledCohort, facts: RequestFacts): boolean {
  for (let i = 0; i < c.headers.length; i++) {
    const [name, value] = c.headers[i]
    if (first(facts.headers[name]) !== value) return false
  }
  if (c.cookies.length > 0) {
    if (facts.cookies === null) return false
    for (let i = 0; i < c.cookies.length; i++) {
      const [name, value] = c.cookies[i]
      if (facts.cookies[name] !== value) return false
    }
  }
  if (c.users !== null || c.percentBp >= 0) {
    const key = facts.key
    if (key === undefined) return false
    if (c.users !== null && !c.users.has(key)) return false
    if (c.percentBp >= 0 && bucketOf(key, c.seed) >= c.percentBp) return false
  }
  return true
}

/**
 * Decides which color serves a request. Pure: the answer depends only on the
 * table and the facts. First rule that applies wins: preview, override,
 * cohorts in order, canary split, live.
 *
 * @example
 * const table = compile(state, options)
 * decide(table, { preview: false, headers: req.headers, cookies: null, key: 'user-7' })
 * // → { color: 'blue', rule: 'live', cohort: null }
 */
export function decide(table: RoutingTable, facts: RequestFacts): Decision {
  if (facts.preview) return table.decisions.preview
  if (table.overridesEnabled) {
    const c = overrideColor(table, facts)
    if (c !== null) return table.decisions.override[c]
  }
  const cohorts = table.cohorts
  for (let i = 0; i < cohorts.length; i++) {
    if (cohortFits(cohorts[i], facts)) return cohorts[i].decision
  }
  // 100% is exact: everyone, with or without a key.
  if (table.canaryBp >= BUCKETS) return table.decisions.canary
  if (table.canaryBp > 0 && facts.key !== undefined && bucketOf(facts.key, CANARY_SEED) < table.canaryBp) {
    return table.decisions.canary
  }
  return table.decisions.live
}

/** The answer of `explain`: a decision with the canary bucket that led to it. */
export interface Explanation {
  color: Color
  rule: Rule
  cohort: string | null
  /** the request's canary bucket in [0, 10000), or null without a key */
  bucket: number | null
  key: string | null
}

/** A dry run of `decide` that also tells the canary bucket, for operators. */
export function explain(table: RoutingTable, facts: RequestFacts): Explanation {
  const d = decide(table, facts)
  return {
    color: d.color,
    rule: d.rule,
    cohort: d.cohort,
    bucket: facts.key === undefined ? null : bucketOf(facts.key, CANARY_SEED),
    key: facts.key ?? null,
  }
}
