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
        const state = deps.service.state
        if (state === undefined || state === null) reasons.push('state not loaded')
        await deps.store.probe?.()
        if (!deps.store.reachable()) reasons.push(deps.store.unreachableReason?.() ?? `${deps.store.kind} store unreachable`)
        const extra = deps.ready?.()
        if (extra !== undefined && !extra.ready) reasons.push(...(extra.reasons.length > 0 ? extra.reasons : ['not ready']))
        const body = { ready: reasons.length === 0, reasons, version: state?.version ?? 0 }
        return reply.code(body.ready ? 200 : 503).send(body)
      },
    )
  }
}
