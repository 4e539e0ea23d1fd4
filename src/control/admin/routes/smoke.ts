import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { other } from '../../../routing/index.js'
import { ColorSchema, ERROR_RESPONSES } from '../schemas.js'

const CheckResult = Type.Object({
  path: Type.String(),
  target: Type.String(),
  ok: Type.Boolean(),
  status: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  ms: Type.Number(),
})

export const SmokeReportSchema = Type.Object({
  color: ColorSchema,
  ok: Type.Boolean(),
  checks: Type.Array(CheckResult),
})

/**
 * `POST /v1/smoke {color?}`: runs the smoke checks now against every target
 * of the color (default: idle). Answers 200 with the report whether the
 * checks pass or not: it is a report, not a refusal.
 */
export function smokeRoutes(): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/smoke',
      {
        schema: {
          summary: 'Run the smoke checks now on a color (default: idle)',
          tags: ['watch'],
          body: Type.Object({ color: Type.Optional(ColorSchema) }, { additionalProperties: false }),
          response: { 200: SmokeReportSchema, ...ERROR_RESPONSES },
        },
      },
      async (req) => req.appHandle.smoke.run(req.body.color ?? other(req.appHandle.service.state.live)),
    )
  }
}
