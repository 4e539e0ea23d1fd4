import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SwitchyardError } from '../../../errors.js'
import { ERROR_RESPONSES, HistoryEntrySchema } from '../schemas.js'

export const DEFAULT_HISTORY_LIMIT = 50
export const MAX_HISTORY_LIMIT = 10_000

/** `GET /v1/history?limit=N`: changes, newest first. */
export function historyRoutes(): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/history',
      {
        schema: {
          summary: 'Changes of the state, newest first',
          tags: ['state'],
          // A query string is text; no type coercion is configured, so the number is parsed here.
          querystring: Type.Object(
            {
              limit: Type.Optional(
                Type.String({ pattern: '^[0-9]{1,5}$', description: `1–${MAX_HISTORY_LIMIT} (default ${DEFAULT_HISTORY_LIMIT})` }),
              ),
            },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ entries: Type.Array(HistoryEntrySchema) }), ...ERROR_RESPONSES },
        },
      },
      async (req) => {
        const raw = req.query.limit
        const limit = raw === undefined ? DEFAULT_HISTORY_LIMIT : Number(raw)
        // Refused, not clamped: a script asking for 99999 entries must learn it gets at most 10000.
        if (limit < 1 || limit > MAX_HISTORY_LIMIT) {
          throw new SwitchyardError('BAD_REQUEST', `querystring/limit must be from 1 to ${MAX_HISTORY_LIMIT}, got ${raw}`)
        }
        return { entries: await req.appHandle.service.history(limit) }
      },
    )
  }
}
