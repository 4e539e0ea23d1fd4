import { join } from 'node:path'
import type { Test } from 'tap'
import { fakeClock } from '../helpers/time.js'
import { tempDir } from '../helpers/fs.js'
import { RolloutController } from '../../src/control/rollout-controller.js'
import { ShadowRecorder } from '../../src/control/shadow.js'
import { Runtime } from '../../src/control/runtime.js'
import { StateService, loadOrInit } from '../../src/control/service.js'
import { createFileStore } from '../../src/control/store/index.js'
import type { StateStore } from '../../src/control/store/types.js'
import type { SmokeGate, SmokeReport } from '../../src/control/types.js'
import { ErrorWindows } from '../../src/control/windows.js'
import { appDirectory, createAdminApp, type AdminApp, type AdminAppOptions, type AppHandle } from '../../src/control/admin/index.js'
import { validateConfig } from '../../src/config/index.js'
import type { Color } from '../../src/routing/index.js'

/** A smoke gate that answers what the test says, and remembers the calls. */
export class FakeSmoke implements SmokeGate {
  calls: Color[] = []
  ok = true
  async run(color: Color): Promise<SmokeReport> {
    this.calls.push(color)
    return {
      color,
      ok: this.ok,
      checks: [
        {
          path: '/health',
          target: 'http://127.0.0.1:1',
          ok: this.ok,
          status: this.ok ? 200 : 500,
          error: this.ok ? null : 'status 500',
          ms: 1,
        },
        { path: '/ready', target: 'http://127.0.0.1:1', ok: true, status: 200, error: null, ms: 1 },
      ],
    }
  }
}

export interface AdminFixture {
  app: AdminApp
  service: StateService
  runtime: Runtime
  store: StateStore
  smoke: FakeSmoke
  /** the one app (`default`) the admin API serves */
  handle: AppHandle
  /** the app's shadow diff counters (also the flip gate's verdict) */
  shadow: ShadowRecorder
}

/** A logger that drops everything (the rollout controller wants one). */
const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} }

/** An admin app over a file store in a temp dir; closed when the test ends. */
export async function adminFixture(
  t: Test,
  o: {
    token?: string
    adminHost?: string
    metricsPublic?: boolean
    stickiness?: { header?: string; cookie?: string }
    app?: AdminAppOptions
    ready?: () => { ready: boolean; reasons: string[] }
    store?: (s: StateStore) => StateStore
  } = {},
): Promise<AdminFixture> {
  const dir = await tempDir(t)
  const clock = fakeClock()
  const config = validateConfig({
    upstreams: { blue: { targets: ['http://127.0.0.1:3001'] }, green: { targets: ['http://127.0.0.1:3002'] } },
    admin: {
      ...(o.token === undefined ? {} : { token: o.token }),
      ...(o.adminHost === undefined ? {} : { host: o.adminHost }),
      metricsPublic: o.metricsPublic ?? false,
    },
    stickiness: o.stickiness ?? { header: 'x-user-id' },
    store: { type: 'file', path: join(dir, 'state.json') },
  })
  const fileStore = createFileStore({ path: join(dir, 'state.json') })
  const store = o.store ? o.store(fileStore) : fileStore
  const runtime = new Runtime(await loadOrInit(store, 'blue', clock.now), {
    stickiness: { header: config.stickiness.header ?? null, cookie: config.stickiness.cookie ?? null },
    overrides: { enabled: false, secret: null },
  })
  const smoke = new FakeSmoke()
  const shadow = new ShadowRecorder({
    settings: config.apps[0].mirror,
    clock: clock.now,
    live: () => runtime.state.live,
    tally: { sent: 0, dropped: 0, error: 0, match: 0, mismatch: 0, skipped: 0 },
  })
  const service = new StateService({ store, runtime, clock: clock.now, smoke, shadow })
  service.on('change', (e) => {
    if (e.state.live !== e.previous.live) shadow.reset()
  })
  const appConfig = config.apps[0]
  const windows = new ErrorWindows({ windowSeconds: appConfig.autoRevert.windowSeconds, now: clock.now })
  service.on('change', windows.onChange)
  const rollouts = new RolloutController({
    service,
    windows,
    thresholds: appConfig.autoRevert,
    clock: clock.now,
    logger: quiet,
    smoke,
    shadow,
  })
  const handle: AppHandle = {
    name: appConfig.name,
    config: appConfig,
    service,
    runtime,
    store,
    smoke,
    shadow,
    rollouts,
    windows,
    targets: () => ({
      blue: appConfig.upstreams.blue.targets.map((url) => ({ url, up: true })),
      green: appConfig.upstreams.green.targets.map((url) => ({ url, up: true })),
    }),
  }
  const app = createAdminApp({ apps: appDirectory([handle]), config, clock: clock.now, ready: o.ready }, o.app)
  t.teardown(async () => {
    await app.close()
    await rollouts.stop()
  })
  await app.ready()
  return { app, service, runtime, store, smoke, handle, shadow }
}

export { stateV, entryV } from '../helpers/state.js'
export { fakeClock } from '../helpers/time.js'
export { tempDir } from '../helpers/fs.js'
