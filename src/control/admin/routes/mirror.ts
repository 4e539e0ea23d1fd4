import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { assertTwoDecimals } from '../errors.js'
import { sendWrite, writeOptions } from '../http.js'
import { ColorSchema, ERROR_RESPONSES, PercentSchema, Reason, WriteResultSchema } from '../schemas.js'

const Mismatch = Type.Object({
  at: Type.String({ description: 'ISO time' }),
  method: Type.String(),
  path: Type.String({ description: 'without the query' }),
  route: Type.String({ description: 'method and path with ids collapsed, e.g. GET /users/:id' }),
  live: Type.Object({ status: Type.Integer() }),
  idle: Type.Object({ status: Type.Integer(), color: ColorSchema }),
  diff: Type.Array(Type.String(), {
    description: 'readable differences, e.g. $.items[2].price: 10 → 12 (secrets redacted, bodies as short excerpts)',
  }),
})

const Route = Type.Object({ route: Type.String(), samples: Type.Integer(), mismatches: Type.Integer(), mismatchRate: Type.Number() })

export const ShadowReportSchema = Type.Object({
  percent: Type.Number({ description: 'the mirror percent now' }),
  compare: Type.Boolean({ description: 'mirror.compare.enabled' }),
  samples: Type.Integer({ description: 'comparisons made (matches + mismatches)' }),
  matches: Type.Integer(),
  mismatches: Type.Integer(),
  skipped: Type.Integer({ description: 'answers not compared: larger than maxBodyBytes, or the live request failed' }),
  errors: Type.Integer({ description: 'copies the idle color failed or did not answer within timeoutMs' }),
  dropped: Type.Integer({ description: 'copies not sent: concurrency reached or body over maxBodyBytes' }),
  sent: Type.Integer(),
  mismatchRate: Type.Number(),
  maxMismatchRate: Type.Number(),
  minSamples: Type.Integer(),
  refusing: Type.Boolean({ description: 'a flip to the idle color would be refused now (SHADOW_MISMATCH)' }),
  routes: Type.Array(Route, { description: 'worst first; at most 200 routes, the rest under "other"' }),
  recent: Type.Array(Mismatch, { description: 'the last 50 mismatches, newest first' }),
})

/** `PUT /v1/mirror`, `GET /v1/shadow`, `POST /v1/shadow/reset` (dark launch). */
export function mirrorRoutes(): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.put(
      '/mirror',
      {
        schema: {
          summary: 'Set the share of live-routed requests copied to the idle color (dark launch)',
          tags: ['state'],
          headers: Type.Object({
            'if-match': Type.Optional(Type.String({ description: 'the version you read: "7", 7 or *' })),
            'x-switchyard-actor': Type.Optional(Type.String({ description: 'who asks; default admin-api' })),
          }),
          body: Type.Object({ percent: PercentSchema, reason: Reason }, { additionalProperties: false }),
          response: { 200: WriteResultSchema, ...ERROR_RESPONSES },
        },
      },
      async (req, reply) => {
        assertTwoDecimals(req.body.percent, 'body/percent')
        return sendWrite(reply, await req.appHandle.service.setMirror(req.body.percent, writeOptions(req, req.body)))
      },
    )

    app.get(
      '/shadow',
      {
        schema: {
          summary: "The shadow diff: how the idle color's answers to mirrored requests compare with the live ones",
          tags: ['watch'],
          response: { 200: ShadowReportSchema, ...ERROR_RESPONSES },
        },
      },
      async (req) => req.appHandle.shadow.report(req.appHandle.service.state.mirror),
    )

    app.post(
      '/shadow/reset',
      {
        schema: {
          summary: 'Clear the shadow diff counters and recent mismatches (a flip clears them too)',
          tags: ['watch'],
          response: { 200: ShadowReportSchema, ...ERROR_RESPONSES },
        },
      },
      async (req) => {
        req.appHandle.shadow.reset()
        return req.appHandle.shadow.report(req.appHandle.service.state.mirror)
      },
    )
  }
}
