import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ERROR_RESPONSES, StateSchema } from '../schemas.js'
import { etag, noneMatch } from '../http.js'

/** `GET /v1/state`: the current snapshot, with its version as ETag (304 on If-None-Match). */
export function stateRoutes(): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/state',
      {
        schema: {
          summary: 'The current state snapshot',
          tags: ['state'],
          response: { 200: StateSchema, 304: { type: 'null', description: 'not modified' }, ...ERROR_RESPONSES },
        },
      },
      async (req, reply) => {
        const state = req.appHandle.service.state
        reply.header('etag', etag(state.version))
        if (noneMatch(req.headers['if-none-match'], state.version)) return reply.code(304).send()
        return state
      },
    )
  }
}
