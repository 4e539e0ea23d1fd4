/**
 * The versioned state and the routing table compiled from it.
 *
 * Invariant: a `State` is never mutated. Every change produces a new object
 * with `version + 1`; the data plane reads one compiled `RoutingTable` per
 * request, so a request never sees half of a change.
 */

export type Color = 'blue' | 'green'
export const COLORS: readonly Color[] = Object.freeze(['blue', 'green'])

/** A cohort may name a color, or follow the roles so it survives a flip. */
export type CohortTarget = Color | 'idle' | 'live'

/** Every given condition must hold (AND); an empty match fits everyone. */
export interface CohortMatch {
  /** header name (any case) → exact value */
  headers?: Record<string, string>
  /** cookie name → exact value */
  cookies?: Record<string, string>
  /** stickiness keys (user ids) that belong to the cohort */
  users?: string[]
  /** share of stickiness buckets, 0–100 with up to two decimals */
  percent?: number
}

export interface Cohort {
  name: string
  color: CohortTarget
  match: CohortMatch
}

export interface RolloutStep {
  /** canary percent held during this step */
  percent: number
  holdSeconds: number
}

export type RolloutStatus = 'running' | 'paused' | 'awaiting-promotion'

/** A progressive canary in progress. Finished rollouts leave `state.rollout` null. */
export interface Rollout {
  id: string
  /** the color being rolled out (the idle color when the rollout started) */
  color: Color
  steps: RolloutStep[]
  autoPromote: boolean
  /** index into `steps` of the step being held */
  stepIndex: number
  status: RolloutStatus
  /** ISO time the current step's hold (re)started */
  stepStartedAt: string
  /** hold time already served in this step before a pause, in ms */
  heldMs: number
  startedAt: string
}

export interface State {
  version: number
  live: Color
  /** the color that was live before the last flip: the target of a rollback */
  previous: Color | null
  /** percent of users routed to the idle color, 0–100, two decimals */
  canary: number
  cohorts: Cohort[]
  rollout: Rollout | null
  updatedAt: string
  /** ISO time of the last flip, rollback or auto-revert rollback */
  lastFlipAt: string | null
  /**
   * What made the last flip: 'auto-revert' when the router rolled back on its
   * own. A color the router returned to is not watched again, on any
   * instance, so two failing colors cannot flip back and forth. Absent in
   * states stored before this field existed (read as null).
   */
  lastFlipAction?: Action | null
  /**
   * Percent of the requests routed by the `live` rule that are copied to the
   * idle color (dark launch), 0–100, two decimals. States stored before this
   * field existed have none: the runtime reads the config's `mirror.percent`.
   */
  mirror: number
}

export type Action = 'flip' | 'rollback' | 'canary' | 'cohort' | 'rollout' | 'auto-revert' | 'mirror'

export interface HistoryEntry {
  /** the app (stamped by the control plane; absent in entries stored before many apps) */
  app?: string
  at: string
  version: number
  action: Action
  from: string | number | null
  to: string | number | null
  actor: string
  reason: string | null
  /** action-specific facts, e.g. the measured error rate of an auto-revert */
  detail?: Record<string, unknown>
}

export type Rule = 'preview' | 'override' | 'cohort' | 'canary' | 'live'

/** The answer of `decide`. Precomputed per table and shared: never mutate. */
export interface Decision {
  readonly color: Color
  readonly rule: Rule
  readonly cohort: string | null
}

/** What the router knows about a request when it decides. */
export interface RequestFacts {
  /** true on the preview listener */
  preview: boolean
  /** node's `IncomingHttpHeaders`: names in lower case */
  headers: Readonly<Record<string, string | string[] | undefined>>
  /** parsed Cookie header; null when there is none or the table needs none */
  cookies: Readonly<Record<string, string>> | null
  /** the stickiness key (user header, user cookie or switchyard-id) */
  key: string | undefined
}

/** Settings from the config that shape routing but are not part of the state. */
export interface RoutingOptions {
  stickiness: { header: string | null; cookie: string | null }
  overrides: { enabled: boolean; secret: string | null }
  /**
   * Dark launch: `percent` is used for states stored without `mirror`;
   * `methods` are the request methods that may be copied. Absent: 0 and GET, HEAD.
   */
  mirror?: { percent: number; methods: readonly string[] }
}

export interface CompiledCohort {
  readonly name: string
  readonly color: Color
  /** [lower-case name, value] pairs */
  readonly headers: readonly (readonly [string, string])[]
  readonly cookies: readonly (readonly [string, string])[]
  readonly users: ReadonlySet<string> | null
  /** bucket threshold in basis points, or -1 when the cohort has no percent */
  readonly percentBp: number
  readonly seed: number
  readonly decision: Decision
}

/** The frozen, precomputed form of a `State` that the data plane reads. */
export interface RoutingTable {
  readonly version: number
  readonly live: Color
  readonly idle: Color
  /** canary percent in basis points: bucket < canaryBp goes to idle */
  readonly canaryBp: number
  readonly cohorts: readonly CompiledCohort[]
  readonly stickinessHeader: string | null
  readonly stickinessCookie: string | null
  readonly overridesEnabled: boolean
  readonly overrideSecret: Buffer | null
  /** true when some rule reads the stickiness key (canary > 0, users, percent) */
  readonly needsKey: boolean
  /** true when some rule reads cookies */
  readonly needsCookies: boolean
  /** mirror percent in basis points: a live-rule request whose draw is below it is copied to idle (0: off) */
  readonly mirrorBp: number
  /** upper-case methods that may be mirrored */
  readonly mirrorMethods: ReadonlySet<string>
  readonly decisions: {
    readonly live: Decision
    readonly preview: Decision
    readonly canary: Decision
    readonly override: Readonly<Record<Color, Decision>>
  }
}
