import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { COLORS, type Color } from '../../../routing/index.js'
import { watchedColors } from '../../auto-revert.js'
import { ColorSchema, ERROR_RESPONSES, StringEnum } from '../schemas.js'

const ColorHealth = Type.Object({
  role: StringEnum(['live', 'idle'] as const),
  targets: Type.Array(
    Type.Object({
      url: Type.String(),
      up: Type.Boolean({ description: 'routable: neither a failed connect nor the health checks say down' }),
      check: Type.Optional(
        Type.Object(
          {
            up: Type.Boolean(),
            checkedAt: Type.Union([Type.String(), Type.Null()]),
            failures: Type.Integer(),
            passes: Type.Integer(),
            error: Type.Union([Type.String(), Type.Null()]),
          },
          { description: 'active health checks (healthCheck.path set)' },
        ),
      ),
    }),
  ),
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
export function healthRoutes(clock: () => number): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/health',
      {
        schema: {
          summary: 'Per color: targets up or down, requests, errors and error rate in the window',
          tags: ['watch'],
          response: { 200: HealthSchema, ...ERROR_RESPONSES },
        },
      },
      async (req) => {
        const app = req.appHandle
        const settings = app.config.autoRevert
        const state = app.service.state
        const targets = app.targets() ?? { blue: [], green: [] }
        const watched = watchedColors(state, clock(), settings.watchSecondsAfterFlip)
        const colors = {} as Record<Color, unknown>
        for (const c of COLORS) {
          const snap = app.windows.snapshot(c)
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
          windowSeconds: app.windows.windowSeconds,
          maxErrorRate: settings.maxErrorRate,
          minRequests: settings.minRequests,
          colors: colors as Record<Color, never>,
        }
      },
    )
  }
}
