import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { COLORS, type Color, type State } from '../../../routing/index.js'
import { watchedColors, type WindowSource } from '../../auto-revert.js'
import { ColorSchema, ERROR_RESPONSES, StringEnum } from '../schemas.js'

export interface HealthRoutesDeps {
  service: { readonly state: State }
  windows: WindowSource
  /** each color's targets and whether the data plane sees them up (dataPlane.targets()) */
  targets: () => Record<Color, { url: string; up: boolean }[]>
  /** config `autoRevert` */
  settings: { maxErrorRate: number; minRequests: number; watchSecondsAfterFlip: number }
  /** epoch ms */
  clock: () => number
}

const ColorHealth = Type.Object({
  role: StringEnum(['live', 'idle'] as const),
  targets: Type.Array(Type.Object({ url: Type.String(), up: Type.Boolean() })),
  requests: Type.Integer(),
  errors: Type.Integer(),
  errorRate: Type.Number(),
  watched: Type.Boolean({ description: 'under watch now: canary, rollout, or just flipped' }),
  watch: Type.Union([StringEnum(['canary', 'rollout', 'after-flip'] as const), Type.Null()]),
})

export const HealthSchema = Type.Object({
  version: Type.Integer(),
  live: ColorSchema,
  windowSeconds: Type.Integer(),
  maxErrorRate: Type.Number(),
  minRequests: Type.Integer(),
  colors: Type.Object({ blue: ColorHealth, green: ColorHealth }),
})

/**
 * `GET /v1/health`: per color, each target up or down, and requests, errors
 * and error rate in this instance's window, and whether it is under watch.
 */
export function healthRoutes(deps: HealthRoutesDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/v1/health',
      {
        schema: {
          summary: 'Per color: targets up or down, requests, errors and error rate in the window',
          tags: ['watch'],
          response: { 200: HealthSchema, ...ERROR_RESPONSES },
        },
      },
      async () => {
        const state = deps.service.state
        const targets = deps.targets()
        const watched = watchedColors(state, deps.clock(), deps.settings.watchSecondsAfterFlip)
        const colors = {} as Record<Color, unknown>
        for (const c of COLORS) {
          const snap = deps.windows.snapshot(c)
          colors[c] = {
            role: c === state.live ? 'live' : 'idle',
            targets: targets[c],
            ...snap,
            watched: watched.has(c),
            watch: watched.get(c) ?? null,
          }
        }
        return {
          version: state.version,
          live: state.live,
          windowSeconds: deps.windows.windowSeconds,
          maxErrorRate: deps.settings.maxErrorRate,
          minRequests: deps.settings.minRequests,
          colors: colors as Record<Color, never>,
        }
      },
    )
  }
}
