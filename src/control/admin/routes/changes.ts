import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { assertTwoDecimals } from '../errors.js'
import { sendWrite, writeOptions } from '../http.js'
import { ColorSchema, ERROR_RESPONSES, Force, PercentSchema, Reason, WriteResultSchema } from '../schemas.js'

const IfMatchHeader = Type.Object({
  'if-match': Type.Optional(Type.String({ description: 'the version you read: "7", 7 or *' })),
  'x-switchyard-actor': Type.Optional(Type.String({ description: 'who asks; default admin-api' })),
})

const write = { 200: WriteResultSchema, ...ERROR_RESPONSES }

/** `POST /v1/flip`, `POST /v1/rollback`, `PUT /v1/canary`. */
export function changeRoutes(): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/flip',
      {
        schema: {
          summary: 'Make a color live (default: idle), after smoke checks on it',
          tags: ['state'],
          headers: IfMatchHeader,
          body: Type.Object({ to: Type.Optional(ColorSchema), force: Force, reason: Reason }, { additionalProperties: false }),
          response: write,
        },
      },
      async (req, reply) => {
        const o = writeOptions(req, req.body)
        const result = await req.appHandle.service.flip(req.body.to === undefined ? o : { ...o, to: req.body.to })
        return sendWrite(reply, result)
      },
    )

    app.post(
      '/rollback',
      {
        schema: {
          summary: 'Make the previous live color live again',
          tags: ['state'],
          headers: IfMatchHeader,
          body: Type.Object({ reason: Reason }, { additionalProperties: false }),
          response: write,
        },
      },
      async (req, reply) => sendWrite(reply, await req.appHandle.service.rollback(writeOptions(req, req.body))),
    )

    app.put(
      '/canary',
      {
        schema: {
          summary: 'Set the canary percent (smoke checks first when going up from 0)',
          tags: ['state'],
          headers: IfMatchHeader,
          body: Type.Object({ percent: PercentSchema, force: Force, reason: Reason }, { additionalProperties: false }),
          response: write,
        },
      },
      async (req, reply) => {
        assertTwoDecimals(req.body.percent, 'body/percent')
        return sendWrite(reply, await req.appHandle.service.setCanary(req.body.percent, writeOptions(req, req.body)))
      },
    )
  }
}
