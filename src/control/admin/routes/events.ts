import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { EventHub } from '../../events/index.js'
import { ERROR_RESPONSES } from '../schemas.js'

/**
 * `GET /v1/events`: Server-Sent Events of every app — `state` on connect and
 * on every change, `history` with each change's entry, `stats` every second.
 * Behind the bearer token like every /v1 call, so a browser reads it with
 * `fetch` (EventSource cannot send the header).
 */
export function eventsRoutes(hub: EventHub): FastifyPluginAsyncTypebox {
  return async (app) => {
    // Open streams would keep the listener from closing: end them first.
    app.addHook('preClose', async () => hub.close())
    app.get(
      '/v1/events',
      {
        schema: {
          summary: 'Server-Sent Events: state, history and stats (every second) of every app',
          tags: ['events'],
          produces: ['text/event-stream'],
          response: { ...ERROR_RESPONSES },
        },
      },
      async (req, reply) => {
        hub.admit()
        reply.hijack()
        const res = reply.raw
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-accel-buffering': 'no',
          'x-content-type-options': 'nosniff',
        })
        res.flushHeaders()
        // Small frames go out at once rather than waiting for Nagle.
        req.raw.socket.setNoDelay(true)
        hub.open(res)
      },
    )
  }
}
