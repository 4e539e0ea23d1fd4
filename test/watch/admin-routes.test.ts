import { ShadowRecorder } from '../../src/control/shadow.js'
import t from 'tap'
import type { Test } from 'tap'
import { join } from 'node:path'
import { validateConfig } from '../../src/config/index.js'
import { appDirectory, createAdminApp, type AppHandle } from '../../src/control/admin/index.js'
import { metricsRoutes } from '../../src/control/admin/routes/metrics.js'
import { RolloutController } from '../../src/control/rollout-controller.js'
import { Runtime } from '../../src/control/runtime.js'
import { StateService, loadOrInit } from '../../src/control/service.js'
import { createFileStore } from '../../src/control/store/index.js'
import type { SmokeGate, SmokeReport } from '../../src/control/types.js'
import { ErrorWindows } from '../../src/control/windows.js'
import { createMetrics } from '../../src/observability/metrics.js'
import type { Color } from '../../src/routing/index.js'
import { fakeClock, memoryLogger } from './helpers.js'
import { tempDir } from '../helpers/fs.js'

const TOKEN = 'a-token-of-sixteen-chars'

async function fixture(t: Test, o: { metricsPublic?: boolean } = {}) {
  const dir = await tempDir(t, 'switchyard-watch-')
  const clock = fakeClock()
  const config = validateConfig({
    upstreams: { blue: { targets: ['http://127.0.0.1:3001'] }, green: { targets: ['http://127.0.0.1:3002', 'http://127.0.0.1:3003'] } },
    admin: { token: TOKEN, metricsPublic: o.metricsPublic ?? false },
    store: { type: 'file', path: join(dir, 'state.json') },
  })
  const store = createFileStore({ path: join(dir, 'state.json') })
  const runtime = new Runtime(await loadOrInit(store, 'blue', clock.now), {
    stickiness: { header: null, cookie: null },
    overrides: { enabled: false, secret: null },
  })
  const smokeCalls: Color[] = []
  let smokeOk = true
  const smoke: SmokeGate = {
    async run(color): Promise<SmokeReport> {
      smokeCalls.push(color)
      return {
        color,
        ok: smokeOk,
        checks: [
          {
            path: '/health',
            target: 'http://127.0.0.1:3002',
            ok: smokeOk,
            status: smokeOk ? 200 : 500,
            error: smokeOk ? null : 'expected status 200, got 500',
            ms: 3,
          },
        ],
      }
    },
  }
  const service = new StateService({ store, runtime, clock: clock.now, smoke })
  const windows = new ErrorWindows({ windowSeconds: config.autoRevert.windowSeconds, now: clock.now })
  service.on('change', windows.onChange)
  const metrics = createMetrics({ defaultMetrics: false })
  const appMetrics = metrics.app('default')
  appMetrics.setState(service.state)
  service.on('change', appMetrics.onChange)
  const appConfig = config.apps[0]
  const rollouts = new RolloutController({
    service,
    windows,
    thresholds: appConfig.autoRevert,
    clock: clock.now,
    logger: memoryLogger(),
    smoke,
    newId: () => 'r1',
  })
  const targets = () => ({
    blue: [{ url: 'http://127.0.0.1:3001', up: true }],
    green: [
      { url: 'http://127.0.0.1:3002', up: true },
      { url: 'http://127.0.0.1:3003', up: false },
    ],
  })
  const shadow = new ShadowRecorder({
    settings: appConfig.mirror,
    clock: clock.now,
    live: () => runtime.state.live,
    tally: appMetrics.mirror,
  })
  const handle: AppHandle = { name: appConfig.name, config: appConfig, service, runtime, store, smoke, shadow, rollouts, windows, targets }
  const app = createAdminApp(
    { apps: appDirectory([handle]), config, clock: clock.now },
    { plugins: [metricsRoutes({ registry: metrics.registry })] },
  )
  t.teardown(async () => {
    await app.close()
    await store.close()
  })
  await app.ready()
  const call = async (method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = {}) => {
    // Writes carry a JSON Content-Type even without a body (the admin API refuses them otherwise).
    const json = method === 'GET' ? {} : { 'content-type': 'application/json' }
    const res = await app.inject({
      method,
      url,
      payload: payload as never,
      headers: { authorization: `Bearer ${TOKEN}`, ...json, ...headers },
    })
    return {
      status: res.statusCode,
      body: res.headers['content-type']?.toString().includes('json') ? res.json() : res.body,
      headers: res.headers,
    }
  }
  return { app, service, windows, metrics, appMetrics, rollouts, clock, call, smokeCalls, setSmoke: (ok: boolean) => (smokeOk = ok) }
}

t.test('POST /v1/smoke: a report with 200 whether ok or not; default color idle', async (t) => {
  const f = await fixture(t)
  const ok = await f.call('POST', '/v1/smoke', {})
  t.equal(ok.status, 200)
  t.match(ok.body, { color: 'green', ok: true, checks: [{ path: '/health', ok: true, status: 200 }] })
  f.setSmoke(false)
  const bad = await f.call('POST', '/v1/smoke', { color: 'blue' })
  t.equal(bad.status, 200)
  t.match(bad.body, { color: 'blue', ok: false, checks: [{ ok: false, status: 500, error: 'expected status 200, got 500' }] })
  const noBody = await f.call('POST', '/v1/smoke')
  t.equal(noBody.status, 200, 'no body means the defaults')
  t.same(f.smokeCalls, ['green', 'blue', 'green'])
  const wrong = await f.call('POST', '/v1/smoke', { color: 'red' })
  t.equal(wrong.status, 400)
  t.equal(wrong.body.error.code, 'BAD_REQUEST')
  const anon = await f.app.inject({ method: 'POST', url: '/v1/smoke', payload: {} })
  t.equal(anon.statusCode, 401)
})

t.test('rollout API: start, get, pause, resume, promote; refusals with codes', async (t) => {
  const f = await fixture(t)
  t.same((await f.call('GET', '/v1/rollout')).body, { rollout: null, progress: null })
  for (const op of ['pause', 'resume', 'abort', 'promote']) {
    const r = await f.call('POST', `/v1/rollout/${op}`, {})
    t.equal(r.status, 409, op)
    t.equal(r.body.error.code, 'NO_ROLLOUT', op)
  }
  const bad = await f.call('POST', '/v1/rollout', {
    steps: [
      { percent: 50, holdSeconds: 10 },
      { percent: 40, holdSeconds: 10 },
    ],
  })
  t.equal(bad.status, 400)
  t.match(bad.body.error, { code: 'BAD_REQUEST', message: /steps\[1\]\.percent \(40\) must be above/ })
  const decimals = await f.call('POST', '/v1/rollout', { steps: [{ percent: 10.005, holdSeconds: 10 }] })
  t.match(decimals.body.error, { code: 'BAD_REQUEST', message: /two decimals/ })
  const empty = await f.call('POST', '/v1/rollout', { steps: [] })
  t.match(empty.body.error, { code: 'BAD_REQUEST', message: /1 to 20 steps/ })
  const extra = await f.call('POST', '/v1/rollout', { steps: [{ percent: 10, holdSeconds: 10, x: 1 }] })
  t.equal(extra.status, 400)
  t.equal(f.service.state.version, 1, 'refusals changed nothing')

  f.setSmoke(false)
  const smokeFail = await f.call('POST', '/v1/rollout', { steps: [{ percent: 10, holdSeconds: 10 }] })
  t.equal(smokeFail.status, 409)
  t.equal(smokeFail.body.error.code, 'SMOKE_FAILED')
  t.equal(f.service.state.version, 1)
  f.setSmoke(true)

  const stale = await f.call('POST', '/v1/rollout', { steps: [{ percent: 10, holdSeconds: 10 }] }, { 'if-match': '"9"' })
  t.equal(stale.status, 412)

  const start = await f.call(
    'POST',
    '/v1/rollout',
    {
      steps: [
        { percent: 10, holdSeconds: 10 },
        { percent: 60, holdSeconds: 10 },
      ],
      autoPromote: false,
      reason: 'v2',
    },
    { 'x-switchyard-actor': 'cli:ana', 'if-match': '"1"' },
  )
  t.equal(start.status, 200)
  t.equal(start.headers.etag, '"2"')
  t.match(start.body, {
    changed: true,
    state: { canary: 10, rollout: { id: 'r1', color: 'green', autoPromote: false } },
    entry: { action: 'rollout', actor: 'cli:ana', reason: 'v2' },
  })
  t.match((await f.call('GET', '/v1/rollout')).body, {
    rollout: { id: 'r1', stepIndex: 0, status: 'running' },
    progress: { step: 1, percent: 10, holdSeconds: 10, verdict: 'not-enough-data', waitingFor: 'holding', requests: 0 },
  })
  const again = await f.call('POST', '/v1/rollout', { steps: [{ percent: 10, holdSeconds: 10 }] })
  t.equal(again.status, 409)
  t.equal(again.body.error.code, 'ROLLOUT_ACTIVE')
  const canary = await f.call('POST', '/v1/rollout/pause', {})
  t.match(canary.body, { changed: true, state: { rollout: { status: 'paused' } } })
  t.match((await f.call('POST', '/v1/rollout/pause')).body, { changed: false })
  t.match((await f.call('POST', '/v1/rollout/resume', { reason: 'go on' })).body, {
    changed: true,
    entry: { reason: 'go on' },
    state: { rollout: { status: 'running' } },
  })
  const promoted = await f.call('POST', '/v1/rollout/promote', { force: true })
  t.match(promoted.body, {
    changed: true,
    state: { live: 'green', canary: 0, rollout: null },
    entry: { action: 'rollout', detail: { op: 'promote' } },
  })
  t.same((await f.call('GET', '/v1/rollout')).body, { rollout: null, progress: null })
})

t.test('rollout abort through the API sets the canary to 0', async (t) => {
  const f = await fixture(t)
  await f.call('POST', '/v1/rollout', { steps: [{ percent: 25, holdSeconds: 10 }] })
  const r = await f.call('POST', '/v1/rollout/abort', { reason: 'no' })
  t.match(r.body, { changed: true, state: { canary: 0, rollout: null }, entry: { action: 'rollout', from: 25, to: 0 } })
})

t.test('GET /v1/health: targets, window numbers, watch flags', async (t) => {
  const f = await fixture(t)
  for (let i = 0; i < 10; i++) f.windows.request('green', i < 3 ? 502 : 200, 0.01, i < 3 ? 'connect' : null)
  f.windows.request('blue', 200, 0.01, null)
  let h = (await f.call('GET', '/v1/health')).body
  t.same(h, {
    version: 1,
    live: 'blue',
    windowSeconds: 30,
    maxErrorRate: 0.05,
    minRequests: 20,
    colors: {
      blue: {
        role: 'live',
        targets: [{ url: 'http://127.0.0.1:3001', up: true }],
        requests: 1,
        errors: 0,
        errorRate: 0,
        watched: false,
        watch: null,
      },
      green: {
        role: 'idle',
        targets: [
          { url: 'http://127.0.0.1:3002', up: true },
          { url: 'http://127.0.0.1:3003', up: false },
        ],
        requests: 10,
        errors: 3,
        errorRate: 0.3,
        watched: false,
        watch: null,
      },
    },
  })
  await f.service.setCanary(5, { actor: 't', force: true })
  h = (await f.call('GET', '/v1/health')).body
  t.match(h.colors.green, { watched: true, watch: 'canary', requests: 0 }, 'the canary leaving 0 restarted the analysis')
  t.match(h.colors.blue, { watched: false })
  await f.service.flip({ actor: 't', force: true })
  h = (await f.call('GET', '/v1/health')).body
  t.match(h.colors.green, { role: 'live', watched: true, watch: 'after-flip' })
  t.match(h.colors.blue, { role: 'idle', watched: false })
})

t.test('GET /metrics: Prometheus text from the own registry; token unless public', async (t) => {
  const f = await fixture(t)
  f.appMetrics.observer.request('blue', 200, 0.01, null)
  await f.service.flip({ actor: 't', force: true })
  const r = await f.call('GET', '/metrics')
  t.equal(r.status, 200)
  t.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  t.match(r.body, /^switchyard_requests_total\{app="default",color="blue",code="200"\} 1$/m)
  t.match(r.body, /^switchyard_flips_total\{app="default"\} 1$/m)
  t.match(r.body, /^switchyard_live_color\{app="default",color="green"\} 1$/m)
  t.match(r.body, /^switchyard_state_version\{app="default"\} 2$/m)
  const anon = await f.app.inject({ method: 'GET', url: '/metrics' })
  t.equal(anon.statusCode, 401)
  const open = await fixture(t, { metricsPublic: true })
  const pub = await open.app.inject({ method: 'GET', url: '/metrics' })
  t.equal(pub.statusCode, 200)
  t.match(pub.body, /switchyard_canary_percent\{app="default"\} 0/)
})
