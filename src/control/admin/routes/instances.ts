import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { InstanceRegistry } from '../../single-instance.js'
import { ERROR_RESPONSES } from '../schemas.js'

const InstanceSchema = Type.Object({
  id: Type.String(),
  appliedVersion: Type.Integer({ description: 'the state version this instance routes by (of its only or default app)' }),
  apps: Type.Optional(Type.Record(Type.String(), Type.Integer(), { description: 'app → the state version this instance routes it by' })),
  lastSeen: Type.String({ description: 'ISO time of its last heartbeat' }),
  host: Type.String(),
  pid: Type.Integer(),
})

/** Options of {@link instancesRoutes}. */
export interface InstancesRoutesOptions {
  registry: Pick<InstanceRegistry, 'list'>
}

/**
 * `GET /v1/instances`: every live router instance with the version it
 * applied. With Redis down it answers 503 STORE_UNAVAILABLE (the admin
 * error handler maps the SwitchyardError).
 */
export function instancesRoutes(opts: InstancesRoutesOptions): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/v1/instances',
      {
        schema: {
          summary: 'Live router instances and the state version each applied',
          tags: ['instances'],
          response: { 200: Type.Object({ instances: Type.Array(InstanceSchema) }), ...ERROR_RESPONSES },
        },
      },
      async () => ({ instances: await opts.registry.list() }),
    )
  }
}
