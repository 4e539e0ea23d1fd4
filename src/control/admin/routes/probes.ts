import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AdminDeps } from '../types.js'

const Ready = Type.Object({ ready: Type.Boolean(), reasons: Type.Array(Type.String()), version: Type.Integer() })

/** `GET /healthz` (the process answers) and `GET /readyz` (state loaded, store reachable and taking writes). Open without token. */
export function probeRoutes(deps: AdminDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/healthz',
      { schema: { summary: 'Liveness', tags: ['probes'], response: { 200: Type.Object({ ok: Type.Boolean() }) } } },
      async () => ({ ok: true }),
    )

    app.get(
      '/readyz',
      { schema: { summary: 'Readiness: state loaded, store reachable', tags: ['probes'], response: { 200: Ready, 503: Ready } } },
      async (_req, reply) => {
        const reasons: string[] = []
        const apps = deps.apps.list()
        if (apps.length === 0) reasons.push('no app loaded')
        for (const a of apps) {
          await a.store.probe?.()
          if (a.store.reachable()) continue
          const why = a.store.unreachableReason?.() ?? `${a.store.kind} store unreachable`
          reasons.push(apps.length === 1 ? why : `app ${a.name}: ${why}`)
        }
        const extra = deps.ready?.()
        if (extra !== undefined && !extra.ready) reasons.push(...(extra.reasons.length > 0 ? extra.reasons : ['not ready']))
        // The version of the only app (0 with several: each app has its own; see GET /v1/apps).
        const body = { ready: reasons.length === 0, reasons, version: apps.length === 1 ? apps[0].service.state.version : 0 }
        return reply.code(body.ready ? 200 : 503).send(body)
      },
    )
  }
}
