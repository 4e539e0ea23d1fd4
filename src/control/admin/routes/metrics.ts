import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Registry } from 'prom-client'

export interface MetricsRoutesDeps {
  registry: Registry
}

/**
 * `GET /metrics`: Prometheus text from switchyard's own registry. Outside
 * /v1; needs the token unless `admin.metricsPublic` (the auth hook decides).
 */
export function metricsRoutes(deps: MetricsRoutesDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['watch'], hide: false } }, async (_req, reply) => {
      const text = await deps.registry.metrics()
      return reply.header('content-type', deps.registry.contentType).header('cache-control', 'no-store').send(text)
    })
  }
}
