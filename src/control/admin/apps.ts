import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import type { AppConfig } from '../../config/index.js'
import { SwitchyardError } from '../../errors.js'
import { COLORS, type Color } from '../../routing/index.js'
import type { WindowSnapshot } from '../windows.js'
import type { RolloutController } from '../rollout-controller.js'
import type { Runtime } from '../runtime.js'
import type { StateService } from '../service.js'
import type { StateStore } from '../store/types.js'
import type { ShadowRecorder } from '../shadow.js'
import type { SmokeGate } from '../types.js'
import { AppNameSchema, ColorSchema, ERROR_RESPONSES, RolloutSchema } from './schemas.js'

/** One app as the admin API sees it (the control plane's AppControl fits). */
export interface AppHandle {
  readonly name: string
  readonly config: Pick<AppConfig, 'hosts' | 'autoRevert'>
  readonly service: StateService
  readonly runtime: Runtime
  readonly store: StateStore
  readonly smoke: SmokeGate
  /** dark launch: the shadow diff counters */
  readonly shadow: Pick<ShadowRecorder, 'report' | 'reset'>
  readonly rollouts: Pick<RolloutController, 'current' | 'progress' | 'begin' | 'pause' | 'resume' | 'abort' | 'promote'>
  readonly windows: { readonly windowSeconds: number; snapshot(color: Color): WindowSnapshot }
  /** each color's targets and whether the data plane sees them up */
  targets(): Record<Color, { url: string; up: boolean }[]> | null
}

/** The apps the admin API serves; a reload may change what it answers. */
export interface AppDirectory {
  get(name: string): AppHandle | undefined
  /** in the config's order */
  list(): readonly AppHandle[]
}

/** A directory over a fixed list (tests, and the composition root's snapshot). */
export function appDirectory(handles: readonly AppHandle[]): AppDirectory {
  const byName = new Map(handles.map((h) => [h.name, h]))
  return { get: (name) => byName.get(name), list: () => handles }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** the app a per-app route addresses; set by the app hook */
    appHandle: AppHandle
  }
}

/**
 * The app of a per-app request: `:app` from `/v1/apps/:app/...`, else the
 * only app (the short form `/v1/...`). Resolved once, in one hook, so every
 * handler gets the same answer: 404 UNKNOWN_APP, 400 APP_REQUIRED.
 */
export function resolveApp(apps: AppDirectory, req: FastifyRequest): AppHandle {
  const name = (req.params as { app?: string } | undefined)?.app
  if (name !== undefined) {
    const app = apps.get(name)
    if (app === undefined) {
      throw new SwitchyardError('UNKNOWN_APP', `No app named ${JSON.stringify(name)}; GET /v1/apps lists them`, {
        apps: apps.list().map((a) => a.name),
      })
    }
    return app
  }
  const all = apps.list()
  if (all.length === 1) return all[0]
  throw new SwitchyardError(
    'APP_REQUIRED',
    `${all.length} apps are configured: name one, as /v1/apps/<app>${req.url.replace(/^\/v1/, '').split('?')[0]} (CLI: --app or SWITCHYARD_APP)`,
    { apps: all.map((a) => a.name) },
  )
}

/**
 * Registers the per-app routes twice: under `/v1/apps/:app` and, for a
 * single app, under `/v1` (the short form). Both share the handlers; the
 * hook fills in `req.appHandle`.
 */
export function perAppRoutes(apps: AppDirectory, plugins: readonly FastifyPluginAsyncTypebox[]): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.decorateRequest('appHandle', null as unknown as AppHandle)
    for (const prefix of ['/v1/apps/:app', '/v1']) {
      await app.register(
        async (scope) => {
          scope.addHook('preValidation', async (req) => {
            req.appHandle = resolveApp(apps, req)
          })
          for (const plugin of plugins) await scope.register(plugin)
        },
        { prefix },
      )
    }
  }
}

const ColorRate = Type.Object({ requests: Type.Integer(), errors: Type.Integer(), errorRate: Type.Number() })

export const AppSummarySchema = Type.Object({
  name: AppNameSchema,
  hosts: Type.Array(Type.String()),
  live: ColorSchema,
  canary: Type.Number(),
  mirror: Type.Number({ description: 'mirror percent (dark launch)' }),
  version: Type.Integer(),
  rollout: Type.Union([RolloutSchema, Type.Null()]),
  updatedAt: Type.String(),
  colors: Type.Object({ blue: ColorRate, green: ColorRate }, { description: "this instance's error window per color" }),
})

/** `GET /v1/apps`: every app with its hosts, live color, canary, version and error rates. */
export function appsRoutes(apps: AppDirectory): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/v1/apps',
      {
        schema: {
          summary: 'Every app: hosts, live color, canary, version, rollout, error rate per color',
          tags: ['apps'],
          response: { 200: Type.Object({ apps: Type.Array(AppSummarySchema) }), ...ERROR_RESPONSES },
        },
      },
      async () => ({
        apps: apps.list().map((a) => {
          const s = a.service.state
          const colors = {} as Record<Color, WindowSnapshot>
          for (const c of COLORS) colors[c] = a.windows.snapshot(c)
          return {
            name: a.name,
            hosts: [...a.config.hosts],
            live: s.live,
            canary: s.canary,
            mirror: s.mirror,
            version: s.version,
            rollout: s.rollout,
            updatedAt: s.updatedAt,
            colors,
          }
        }),
      }),
    )
  }
}
