import { toBasisPoints, seedFor } from './bucket.js'
import type { Color, CohortTarget, CompiledCohort, Decision, RoutingOptions, RoutingTable, State } from './types.js'

/** The color that is not `c`. */
export function other(c: Color): Color {
  return c === 'blue' ? 'green' : 'blue'
}

/** Resolves a cohort's target against the state's live color. */
export function resolveTarget(target: CohortTarget, live: Color): Color {
  if (target === 'live') return live
  if (target === 'idle') return other(live)
  return target
}

/** Methods mirrored when the config names none: blue and green usually share one database. */
export const DEFAULT_MIRROR_METHODS: readonly string[] = Object.freeze(['GET', 'HEAD'])

/**
 * The mirror percent a state routes with: its own, or the config's for a
 * state stored before the field existed.
 */
export function mirrorPercent(state: State, options: RoutingOptions): number {
  return typeof state.mirror === 'number' ? state.mirror : (options.mirror?.percent ?? 0)
}

function decision(color: Color, rule: Decision['rule'], cohort: string | null = null): Decision {
  return Object.freeze({ color, rule, cohort })
}

/**
 * Builds the frozen routing table of a state. Everything a request needs is
 * resolved here, once per change: roles to colors, percents to basis points,
 * user lists to Sets, header names to lower case, and the decisions
 * themselves, so `decide` allocates nothing.
 */
export function compile(state: State, options: RoutingOptions): RoutingTable {
  const live = state.live
  const idle = other(live)
  let needsKey = state.canary > 0
  let needsCookies = options.overrides.enabled || options.stickiness.cookie !== null
  const cohorts: CompiledCohort[] = []
  for (const c of state.cohorts) {
    const color = resolveTarget(c.color, live)
    const m = c.match
    const headers = Object.entries(m.headers ?? {}).map(([k, v]) => Object.freeze([k.toLowerCase(), v] as const))
    const cookies = Object.entries(m.cookies ?? {}).map(([k, v]) => Object.freeze([k, v] as const))
    const users = m.users !== undefined ? new Set(m.users) : null
    const percentBp = m.percent !== undefined ? toBasisPoints(m.percent) : -1
    if (users !== null || percentBp >= 0) needsKey = true
    if (cookies.length > 0) needsCookies = true
    cohorts.push(
      Object.freeze({
        name: c.name,
        color,
        headers: Object.freeze(headers),
        cookies: Object.freeze(cookies),
        users,
        percentBp,
        seed: seedFor(c.name),
        decision: decision(color, 'cohort', c.name),
      }),
    )
  }
  // The switchyard-id cookie is itself a key source, so reading keys reads cookies.
  if (needsKey) needsCookies = true
  const secret = options.overrides.secret
  return Object.freeze({
    version: state.version,
    live,
    idle,
    canaryBp: toBasisPoints(state.canary),
    cohorts: Object.freeze(cohorts),
    stickinessHeader: options.stickiness.header?.toLowerCase() ?? null,
    stickinessCookie: options.stickiness.cookie,
    overridesEnabled: options.overrides.enabled,
    overrideSecret: secret !== null && secret !== '' ? Buffer.from(secret) : null,
    needsKey,
    needsCookies,
    mirrorBp: toBasisPoints(mirrorPercent(state, options)),
    mirrorMethods: new Set((options.mirror?.methods ?? DEFAULT_MIRROR_METHODS).map((m) => m.toUpperCase())),
    decisions: Object.freeze({
      live: decision(live, 'live'),
      preview: decision(idle, 'preview'),
      canary: decision(idle, 'canary'),
      override: Object.freeze({ blue: decision('blue', 'override'), green: decision('green', 'override') }),
    }),
  })
}
