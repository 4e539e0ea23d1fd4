import { Type, type Static, type TSchema } from '@sinclair/typebox'

/**
 * JSON schemas of the admin API (TypeBox, so handlers get the types). Fastify
 * validates every body, param and query string with them at the edge, and
 * @fastify/swagger turns them into the OpenAPI document at `/docs/json`.
 *
 * Enums are `{type: string, enum}` rather than unions of literals, so a bad
 * value gets one clear message ("must be one of: blue, green").
 */

/** A string enum as plain JSON schema `enum`. */
export function StringEnum<T extends string>(values: readonly T[], options: { description?: string } = {}) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options })
}

export const AppNameSchema = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'an app name' })
export const ColorSchema = StringEnum(['blue', 'green'] as const)
export const CohortTargetSchema = StringEnum(['blue', 'green', 'idle', 'live'] as const, {
  description: 'a color, or a role (idle, live) that follows flips',
})

/** 0–100; "at most two decimals" is checked in the handlers (floats cannot say it). */
export const PercentSchema = Type.Number({ minimum: 0, maximum: 100, description: '0–100, at most two decimals' })

export const COHORT_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'
export const CohortNameSchema = Type.String({
  pattern: COHORT_NAME_PATTERN,
  description: '1–64 letters, digits, . _ -, starting with a letter or digit',
})

const TOKEN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
/** header or cookie name → exact value */
const NameValues = (what: string) =>
  Type.Record(Type.String({ pattern: TOKEN }), Type.String(), {
    additionalProperties: false,
    description: `${what} name → exact value`,
  })

export const MAX_COHORT_USERS = 1_000_000

export const CohortMatchSchema = Type.Object(
  {
    headers: Type.Optional(NameValues('header')),
    cookies: Type.Optional(NameValues('cookie')),
    users: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { maxItems: MAX_COHORT_USERS, description: 'stickiness keys (user ids)' }),
    ),
    percent: Type.Optional({ ...PercentSchema, description: 'share of stickiness buckets, 0–100, at most two decimals' }),
  },
  { additionalProperties: false, description: 'every given condition must hold; an empty match fits everyone' },
)

export const CohortSchema = Type.Object({
  name: CohortNameSchema,
  color: CohortTargetSchema,
  match: CohortMatchSchema,
})

export const RolloutStepSchema = Type.Object({
  percent: PercentSchema,
  holdSeconds: Type.Number({ minimum: 0 }),
})

const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()])

export const RolloutSchema = Type.Object(
  {
    id: Type.String(),
    color: ColorSchema,
    steps: Type.Array(RolloutStepSchema),
    autoPromote: Type.Boolean(),
    stepIndex: Type.Integer(),
    status: StringEnum(['running', 'paused', 'awaiting-promotion'] as const),
    stepStartedAt: Type.String(),
    heldMs: Type.Number(),
    startedAt: Type.String(),
  },
  // Serialized as is: a field added by the rollout controller must not vanish.
  { additionalProperties: true },
)

export const StateSchema = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    live: ColorSchema,
    previous: Nullable(ColorSchema),
    canary: PercentSchema,
    cohorts: Type.Array(CohortSchema),
    rollout: Nullable(RolloutSchema),
    updatedAt: Type.String({ description: 'ISO time' }),
    lastFlipAt: Nullable(Type.String({ description: 'ISO time' })),
    lastFlipAction: Type.Optional(
      Nullable(Type.String({ description: "what made the last flip; 'auto-revert' when the router rolled back itself" })),
    ),
    mirror: Type.Optional(PercentSchema),
  },
  { additionalProperties: true },
)

const FromTo = Nullable(Type.Union([Type.String(), Type.Number()]))

export const HistoryEntrySchema = Type.Object(
  {
    app: Type.Optional(Type.String({ description: 'the app (entries stored before many apps have none)' })),
    at: Type.String({ description: 'ISO time' }),
    version: Type.Integer(),
    action: StringEnum(['flip', 'rollback', 'canary', 'cohort', 'rollout', 'auto-revert', 'mirror'] as const),
    from: FromTo,
    to: FromTo,
    actor: Type.String(),
    reason: Nullable(Type.String()),
    detail: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: true },
)

export const ErrorReplySchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'a code of the error catalogue, e.g. VERSION_MISMATCH' }),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { description: 'every refusal' },
)

export const WriteResultSchema = Type.Object({
  changed: Type.Boolean({ description: 'false when the state already was what was asked' }),
  state: StateSchema,
  entry: Nullable(HistoryEntrySchema),
  converged: Nullable(Type.Boolean({ description: 'whether every instance applied the new version' })),
})

/** Response schemas for refusals, to spread into a route's `response`. */
export const ERROR_RESPONSES = {
  '4xx': ErrorReplySchema,
  '5xx': ErrorReplySchema,
} as const

export const Reason = Type.Optional(Type.String({ maxLength: 1000, description: 'why; recorded in the history' }))
export const Force = Type.Optional(Type.Boolean({ description: 'skip the smoke checks' }))

export type CohortBody = Static<typeof CohortSchema>
export type ErrorReply = Static<typeof ErrorReplySchema>
