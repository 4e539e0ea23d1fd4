import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sendWrite, writeOptions } from '../http.js'
import { ERROR_RESPONSES, Force, Reason, RolloutSchema, WriteResultSchema } from '../schemas.js'

const Headers = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'the version you read: "7", 7 or *' })),
  'x-switchyard-actor': Type.Optional(Type.String({ description: 'who asks; default admin-api' })),
})

// Shape only; the plan's rules (rising, two decimals, whole seconds, 1–20
// steps) are checked by validatePlan so every refusal names the step.
const StepSchema = Type.Object(
  {
    percent: Type.Number({ description: 'canary percent held in this step: above 0, at most 100, two decimals, rising' }),
    holdSeconds: Type.Number({ description: 'whole seconds, at least 1' }),
  },
  { additionalProperties: false },
)

const StartBody = Type.Object(
  {
    steps: Type.Array(StepSchema, { description: '1–20 steps' }),
    autoPromote: Type.Optional(Type.Boolean({ description: 'flip at the end (default true)' })),
    force: Force,
    reason: Reason,
  },
  { additionalProperties: false },
)

const write = { 200: WriteResultSchema, ...ERROR_RESPONSES }

/**
 * `POST /v1/rollout`, `POST /v1/rollout/{pause,resume,abort,promote}`,
 * `GET /v1/rollout`. Writes answer like every write
 * (`{changed, state, entry, converged}` with the new ETag); NO_ROLLOUT and
 * ROLLOUT_ACTIVE are 409.
 */
const Progress = Type.Object({
  step: Type.Integer({ description: '1-based' }),
  steps: Type.Integer(),
  percent: Type.Number(),
  heldSeconds: Type.Integer(),
  holdSeconds: Type.Integer(),
  verdict: Type.String({ description: "'not-enough-data', 'healthy' or 'breach'" }),
  waitingFor: Type.Union([Type.String(), Type.Null()], {
    description: "what the next step waits for: 'holding', 'not enough data', 'paused', 'awaiting promotion'",
  }),
  requests: Type.Integer(),
  errors: Type.Integer(),
  errorRate: Type.Number(),
  minRequests: Type.Integer(),
})

export function rolloutRoutes(): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/rollout',
      {
        schema: {
          summary: 'The rollout in progress and where it stands, or null',
          tags: ['rollout'],
          response: {
            200: Type.Object({ rollout: Type.Union([RolloutSchema, Type.Null()]), progress: Type.Union([Progress, Type.Null()]) }),
            ...ERROR_RESPONSES,
          },
        },
      },
      async (req) => ({ rollout: req.appHandle.rollouts.current, progress: req.appHandle.rollouts.progress }),
    )

    app.post(
      '/rollout',
      {
        schema: {
          summary: 'Start a progressive canary of the idle color (smoke checks first)',
          tags: ['rollout'],
          headers: Headers,
          body: StartBody,
          response: write,
        },
      },
      async (req, reply) => {
        const plan = { steps: req.body.steps, autoPromote: req.body.autoPromote ?? true }
        return sendWrite(reply, await req.appHandle.rollouts.begin(plan, writeOptions(req, req.body)))
      },
    )

    const ops = [
      ['pause', 'Stop the hold clock; the canary stays'],
      ['resume', 'Continue the hold clock where it stopped'],
      ['abort', 'End the rollout; the canary goes to 0'],
      ['promote', 'Flip to the rolled-out color now (smoke checks first unless force)'],
    ] as const
    for (const [op, summary] of ops) {
      app.post(
        `/rollout/${op}`,
        {
          schema: {
            summary,
            tags: ['rollout'],
            headers: Headers,
            body: Type.Object(op === 'promote' ? { reason: Reason, force: Force } : { reason: Reason }, { additionalProperties: false }),
            response: write,
          },
        },
        async (req, reply) => sendWrite(reply, await req.appHandle.rollouts[op](writeOptions(req, req.body))),
      )
    }
  }
}
