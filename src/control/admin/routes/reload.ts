import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ConfigError } from '../../../config/index.js'
import type { ReloadResult } from '../../reload.js'
import { replyError } from '../errors.js'
import { ERROR_RESPONSES } from '../schemas.js'

export interface ReloadRoutesDeps {
  reload: () => Promise<ReloadResult>
}

const Result = Type.Object({
  added: Type.Array(Type.String(), { description: 'apps that are new' }),
  removed: Type.Array(Type.String(), { description: 'apps no longer served (their stored state is kept)' }),
  changed: Type.Array(Type.String(), { description: 'apps whose hosts, targets or settings changed' }),
  needsRestart: Type.Array(Type.String(), { description: 'changed keys a reload does not apply (listeners, admin, store)' }),
})

/**
 * `POST /v1/reload`: re-reads the config file. An invalid file changes
 * nothing and answers 400 CONFIG_INVALID with `details.errors`, one line per
 * problem, each naming its key.
 */
export function reloadRoutes(deps: ReloadRoutesDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/v1/reload',
      {
        schema: {
          summary: 'Re-read the config file and apply it (apps, hosts, targets, settings)',
          tags: ['apps'],
          body: Type.Object({}, { additionalProperties: false }),
          response: { 200: Result, ...ERROR_RESPONSES },
        },
      },
      async (_req, reply) => {
        try {
          return await deps.reload()
        } catch (e) {
          if (e instanceof ConfigError) {
            return replyError(reply, 'CONFIG_INVALID', e.message, { errors: e.problems }, 400)
          }
          throw e
        }
      },
    )
  }
}
