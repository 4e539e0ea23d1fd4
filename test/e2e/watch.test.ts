import t, { type Test } from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { admin, baseConfig, startRouterProcess, writeConfig, type RouterProcess } from './router-process.js'
import { startColorServer, type ColorServer } from './upstreams.js'
import { Traffic, closedPort, find, parseMetrics, startWebhookReceiver, value, waitFor } from './watch-helpers.js'

/**
 * Issue 4, end to end: real router processes (dist/), real upstreams, real
 * HTTP. The auto-revert and rollout controllers tick every 500 ms; nothing
 * here asserts a duration except the contract's "within one window", which
 * gets the whole window (10× a tick) as its bound. Everything else waits for
 * an event with a deadline.
 */

const WINDOW_SECONDS = 5
const MIN_REQUESTS = 10
const MAX_ERROR_RATE = 0.2

const SMOKE = { checks: [{ path: '/health', expectStatus: 200, bodyIncludes: 'ok', timeoutMs: 2000 }] }

interface Setup {
  blue: ColorServer
  green: ColorServer
  router: RouterProcess
  traffic: Traffic
  dir: string
}

/** Two upstreams, one router with `extra` config, a traffic generator; all torn down with the test. */
async function setup(t: Test, extra: Record<string, unknown>, greenTargets?: string[]): Promise<Setup> {
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(() => Promise.all([blue.close(), green.close()]))
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-watch-'))
  const cfg = writeConfig(baseConfig(dir, [blue.url], greenTargets ?? [green.url], extra), dir)
  const router = await startRouterProcess(cfg)
  t.teardown(() => router.stop('SIGKILL'))
  const traffic = new Traffic(router.proxyUrl)
  // LIFO: the traffic stops before the router and the upstreams go away
  t.teardown(() => traffic.close())
  return { blue, green, router, traffic, dir }
}

const autoRevert = (over: Record<string, unknown> = {}) => ({
  autoRevert: {
    enabled: true,
    maxErrorRate: MAX_ERROR_RATE,
    minRequests: MIN_REQUESTS,
    windowSeconds: WINDOW_SECONDS,
    watchSecondsAfterFlip: 60,
    ...over,
  },
})

async function state(r: RouterProcess) {
  const s = await admin(r.adminUrl, 'GET', '/v1/state')
  if (s.status !== 200) throw new Error(`GET /v1/state answered ${s.status}: ${JSON.stringify(s.json)}`)
  return s.json
}

async function history(r: RouterProcess): Promise<any[]> {
  const h = await admin(r.adminUrl, 'GET', '/v1/history')
  if (h.status !== 200) throw new Error(`GET /v1/history answered ${h.status}: ${JSON.stringify(h.json)}`)
  return h.json.entries
}

async function metrics(r: RouterProcess) {
  const res = await fetch(r.adminUrl + '/metrics')
  const text = await res.text()
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${text}`)
  return { contentType: res.headers.get('content-type'), text, ...parseMetrics(text) }
}

/** Asserts the auto-revert detail of a canary revert of green. */
function checkCanaryRevertEntry(t: Test, revert: any) {
  t.equal(revert.from, 30, 'the revert entry goes from 30 …')
  t.equal(revert.to, 0, '… to 0')
  t.equal(revert.actor, 'switchyard')
  t.match(revert.reason, /green error rate 100\.0% > 20\.0% over \d+ requests in 5 s/, 'the reason names the measured rate')
  t.equal(revert.detail?.color, 'green')
  t.equal(revert.detail?.errorRate, 1, 'measured error rate in detail')
  t.ok(revert.detail?.requests >= MIN_REQUESTS, `at least minRequests in the window (${revert.detail?.requests})`)
  t.equal(revert.detail?.errors, revert.detail?.requests, 'every green request was an error')
  t.equal(revert.detail?.windowSeconds, WINDOW_SECONDS)
  t.equal(revert.detail?.maxErrorRate, MAX_ERROR_RATE)
}

t.test('green failing 100% at canary 30% → canary back to 0 within one window; blue stays 200', async (t) => {
  const { green, router, traffic } = await setup(t, { stickiness: { header: 'x-user-id' }, ...autoRevert() })
  green.status = 500

  const put = await admin(router.adminUrl, 'PUT', '/v1/canary', { percent: 30, force: true, reason: 'try release 8' })
  t.equal(put.status, 200, 'canary set')
  t.equal(put.json.state.canary, 30)
  const canaryVersion = put.json.state.version

  traffic.startBackground(3)
  const reverted = await waitFor('the canary to go back to 0', async () => {
    const s = await state(router)
    return s.canary === 0 ? s : undefined
  })
  await traffic.stop()

  t.equal(reverted.live, 'blue', 'blue is still live')
  t.ok(reverted.version > canaryVersion, 'a new version')
  const entries = await history(router)
  t.equal(entries[0].action, 'auto-revert', 'newest history entry is the auto-revert')
  const revert = entries.find((e) => e.action === 'auto-revert')
  checkCanaryRevertEntry(t, revert)
  const canaryEntry = entries.find((e) => e.action === 'canary')
  t.equal(canaryEntry?.to, 30, 'the canary entry is there too')

  // "within one window": from the moment the window could hold minRequests
  // green answers (the client has seen them) to the stored revert.
  const greens = traffic.answers.filter((a) => a.color === 'green')
  t.ok(greens.length >= MIN_REQUESTS, `green got traffic (${greens.length} requests)`)
  const enoughAt = greens[MIN_REQUESTS - 1].at
  const lag = Date.parse(revert.at) - enoughAt
  t.ok(lag <= WINDOW_SECONDS * 1000, `reverted within one window (${lag} ms after the window had ${MIN_REQUESTS} green requests)`)

  t.same(traffic.failures, [], 'no transport failures')
  const blues = traffic.answers.filter((a) => a.color === 'blue')
  t.ok(blues.length > 0, `blue got traffic (${blues.length} requests)`)
  t.same(
    blues.filter((a) => a.status !== 200),
    [],
    'every request that went to blue answered 200',
  )
  t.equal(blues.filter((a) => a.servedBy !== 'blue').length, 0, 'and blue served it')
  t.same(
    greens.filter((a) => a.status !== 500),
    [],
    'green answered its 500s (nothing else went wrong)',
  )

  // After the revert, new users all land on blue and get 200.
  const after = await traffic.burst(40)
  t.equal(after.length, 40)
  t.ok(
    after.every((a) => a.color === 'blue' && a.status === 200),
    'after the revert every request is blue and 200',
  )

  const m = await metrics(router)
  t.equal(value(m.samples, 'switchyard_auto_reverts_total', { app: 'default' }), 1, 'auto_reverts_total counts the revert')
  t.equal(value(m.samples, 'switchyard_canary_percent', { app: 'default' }), 0)
  t.equal(value(m.samples, 'switchyard_flips_total', { app: 'default' }), 0, 'a canary revert is not a flip')
  t.ok(
    router.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('auto-revert: green error rate')),
    'the revert is logged',
  )
})

t.test('a flip to a failing green rolls back on its own', async (t) => {
  const { blue, green, router, traffic } = await setup(t, { smoke: SMOKE, ...autoRevert() })
  green.status = 500 // /health stays 200: the smoke checks pass, real traffic fails

  const flip = await admin(router.adminUrl, 'POST', '/v1/flip', { reason: 'release 9' })
  t.equal(flip.status, 200, 'the flip passes the smoke checks')
  t.equal(flip.json.state.live, 'green')
  const flipVersion = flip.json.state.version

  traffic.startBackground(3)
  const back = await waitFor('live to be blue again', async () => {
    const s = await state(router)
    return s.live === 'blue' ? s : undefined
  })
  await traffic.stop()
  t.ok(back.version > flipVersion)

  const entries = await history(router)
  const revert = entries[0]
  t.equal(revert.action, 'auto-revert', 'newest history entry is the auto-revert')
  t.equal(revert.from, 'green', 'it rolled back from green …')
  t.equal(revert.to, 'blue', '… to blue')
  t.equal(revert.actor, 'switchyard')
  t.equal(revert.detail?.color, 'green')
  t.equal(revert.detail?.errorRate, 1, 'the measured rate is in detail')
  t.ok(revert.detail?.requests >= MIN_REQUESTS)
  t.equal(entries[1]?.action, 'flip', 'the flip is the entry before it')

  t.same(traffic.failures, [], 'no transport failures')
  t.ok(
    traffic.answers.some((a) => a.color === 'green' && a.status === 500),
    'green did get (and fail) traffic',
  )
  const hitsBefore = blue.hits
  const after = await traffic.burst(20)
  t.ok(
    after.every((a) => a.color === 'blue' && a.status === 200 && a.servedBy === 'blue'),
    'live blue again: 200 from blue',
  )
  t.ok(blue.hits >= hitsBefore + 20)

  // the rollback cleared both windows; blue's window now holds the burst, all fine
  const health = await admin(router.adminUrl, 'GET', '/v1/health')
  t.equal(health.status, 200)
  t.comment(`health after the revert: ${JSON.stringify(health.json)}`)
  t.equal(health.json.live, 'blue')
  t.equal(health.json.colors?.blue?.role, 'live')
  t.equal(health.json.colors?.blue?.errors, 0, 'no errors on blue in the window')
  t.ok(health.json.colors?.blue?.requests >= 20, 'the burst to blue is in the window')
  t.equal((await state(router)).live, 'blue', 'still blue: no ping-pong')

  const m = await metrics(router)
  t.equal(value(m.samples, 'switchyard_auto_reverts_total', { app: 'default' }), 1)
  t.equal(
    value(m.samples, 'switchyard_flips_total', { app: 'default' }),
    2,
    'the flip and the automatic rollback both change the live color',
  )
  t.equal(value(m.samples, 'switchyard_live_color', { app: 'default', color: 'blue' }), 1)
  t.equal(value(m.samples, 'switchyard_live_color', { app: 'default', color: 'green' }), 0)
})

t.test('failing /health on green: flip refused 409 SMOKE_FAILED, state unchanged; force flips', async (t) => {
  const { green, router, traffic } = await setup(t, { smoke: SMOKE, ...autoRevert() })
  green.healthStatus = 503

  const before = await state(router)
  const historyBefore = await history(router)
  const refused = await admin(router.adminUrl, 'POST', '/v1/flip', { reason: 'release 10' })
  t.equal(refused.status, 409)
  t.equal(refused.json.error?.code, 'SMOKE_FAILED')
  t.type(refused.json.error?.message, 'string')
  t.equal(refused.json.error?.details?.color, 'green', 'details name the checked color')
  const checks = refused.json.error?.details?.checks
  t.ok(Array.isArray(checks) && checks.length === 1, 'one result per check and target')
  t.match(checks?.[0], { path: '/health', target: green.url, ok: false, status: 503 }, 'the failing check with its status')

  const after = await state(router)
  t.equal(after.version, before.version, 'state version unchanged')
  t.same(after, before, 'state exactly as it was')
  t.same(await history(router), historyBefore, 'nothing recorded')
  const stillBlue = await traffic.burst(5)
  t.ok(
    stillBlue.every((a) => a.color === 'blue' && a.status === 200),
    'traffic still on blue',
  )

  const smoke = await admin(router.adminUrl, 'POST', '/v1/smoke', { color: 'green' })
  t.equal(smoke.status, 200, 'on-demand smoke answers 200 even when failing')
  t.equal(smoke.json.ok, false)

  const forced = await admin(router.adminUrl, 'POST', '/v1/flip', { force: true, reason: 'I know' })
  t.equal(forced.status, 200, 'force skips the checks')
  t.equal(forced.json.changed, true)
  t.equal(forced.json.state.live, 'green')
  t.equal(forced.json.state.version, before.version + 1)
  t.equal(forced.json.entry?.action, 'flip')
  const onGreen = await traffic.burst(5)
  t.ok(
    onGreen.every((a) => a.color === 'green' && a.status === 200),
    'traffic now on green',
  )
})

t.test('a 3-step rollout against a healthy green ends live on green', async (t) => {
  const { router, traffic } = await setup(t, {
    smoke: SMOKE,
    stickiness: { header: 'x-user-id' },
    ...autoRevert({ minRequests: 5 }),
  })
  traffic.startBackground(3)

  const steps = [
    { percent: 10, holdSeconds: 1 },
    { percent: 50, holdSeconds: 1 },
    { percent: 100, holdSeconds: 1 },
  ]
  const start = await admin(router.adminUrl, 'POST', '/v1/rollout', { steps, autoPromote: true, reason: 'release 11' })
  t.equal(start.status, 200, start.status === 200 ? 'rollout started' : `rollout refused: ${JSON.stringify(start.json)}`)
  t.equal(start.json.state.canary, 10)
  t.equal(start.json.state.rollout?.color, 'green')
  t.equal(start.json.state.rollout?.stepIndex, 0)

  const again = await admin(router.adminUrl, 'POST', '/v1/rollout', { steps, autoPromote: true })
  t.equal(again.status, 409)
  t.equal(again.json.error?.code, 'ROLLOUT_ACTIVE')

  const seen = new Set<number>()
  const done = await waitFor(
    'the rollout to promote green',
    async () => {
      const s = await state(router)
      if (s.rollout !== null) seen.add(s.canary)
      return s.live === 'green' && s.rollout === null ? s : undefined
    },
    45_000,
  )
  await traffic.stop()
  t.equal(done.canary, 0, 'canary 0 after the promotion')
  t.same((await admin(router.adminUrl, 'GET', '/v1/rollout')).json, { rollout: null, progress: null }, 'GET /v1/rollout: null')

  const entries = await history(router)
  t.notOk(
    entries.some((e) => e.action === 'auto-revert'),
    'no auto-revert',
  )
  const ops = entries
    .filter((e) => e.action === 'rollout')
    .reverse()
    .map((e) => ({ op: e.detail?.op, step: e.detail?.step, percent: e.detail?.percent }))
  t.same(
    ops,
    [
      { op: 'start', step: 0, percent: 10 },
      { op: 'advance', step: 1, percent: 50 },
      { op: 'advance', step: 2, percent: 100 },
      { op: 'promote', step: 2, percent: 100 },
    ],
    'history shows each step and the promotion',
  )
  const promote = entries[0]
  t.equal(promote.action, 'rollout')
  t.equal(promote.from, 'blue')
  t.equal(promote.to, 'green')
  t.equal(promote.actor, 'switchyard')

  t.same(traffic.failures, [], 'no transport failures')
  t.same(
    traffic.answers.filter((a) => a.status !== 200),
    [],
    'every request answered 200 during the rollout',
  )
  t.ok(traffic.answers.filter((a) => a.color === 'green').length >= 3 * 5, 'green got traffic in every step')
  const after = await traffic.burst(10)
  t.ok(
    after.every((a) => a.color === 'green' && a.status === 200),
    'live on green',
  )
  t.comment(`canary values seen while polling: ${[...seen].join(', ')}; requests: ${traffic.answers.length}`)
})

t.test('/metrics exposes every contract metric with correct values after known traffic', async (t) => {
  const dead = await closedPort()
  const { router, traffic } = await setup(
    t,
    { overrides: { enabled: true }, autoRevert: { enabled: false }, timeouts: { connectMs: 1000, headersMs: 5000, bodyMs: 5000 } },
    [`http://127.0.0.1:${dead}`],
  )

  const m0 = await metrics(router)
  t.match(m0.contentType, /^text\/plain/, 'Prometheus text')
  const s0 = await state(router)
  t.equal(value(m0.samples, 'switchyard_state_version', { app: 'default' }), s0.version, 'state_version = GET /v1/state version')
  t.equal(value(m0.samples, 'switchyard_live_color', { app: 'default', color: 'blue' }), 1)
  t.equal(value(m0.samples, 'switchyard_live_color', { app: 'default', color: 'green' }), 0)
  t.equal(value(m0.samples, 'switchyard_canary_percent', { app: 'default' }), 0)
  t.equal(value(m0.samples, 'switchyard_flips_total', { app: 'default' }), 0)
  t.equal(value(m0.samples, 'switchyard_auto_reverts_total', { app: 'default' }), 0)
  t.equal(value(m0.samples, 'switchyard_last_flip_timestamp_seconds', { app: 'default' }), 0, 'never flipped: 0')

  // known traffic: N to blue (live), K forced to green (a closed port)
  const N = 25
  const K = 4
  const toBlue = await traffic.burst(N)
  t.ok(toBlue.length === N && toBlue.every((a) => a.status === 200 && a.color === 'blue'), `${N} × 200 from blue`)
  const toGreen = await traffic.burst(K, { 'x-switchyard-color': 'green' }, 1)
  t.equal(toGreen.length, K)
  t.ok(
    toGreen.every((a) => a.status === 502),
    `${K} × 502 from the dead green: ${JSON.stringify(toGreen.map((a) => a.status))}`,
  )

  const m1 = await metrics(router)
  const types = m1.types
  t.equal(types.get('switchyard_requests_total'), 'counter')
  t.equal(types.get('switchyard_request_duration_seconds'), 'histogram')
  t.equal(types.get('switchyard_upstream_errors_total'), 'counter')
  t.equal(types.get('switchyard_live_color'), 'gauge')
  t.equal(types.get('switchyard_canary_percent'), 'gauge')
  t.equal(types.get('switchyard_state_version'), 'gauge')
  t.equal(types.get('switchyard_flips_total'), 'counter')
  t.equal(types.get('switchyard_auto_reverts_total'), 'counter')
  t.equal(types.get('switchyard_last_flip_timestamp_seconds'), 'gauge')

  t.equal(
    value(m1.samples, 'switchyard_requests_total', { app: 'default', color: 'blue', code: '200' }),
    N,
    `requests_total{blue,200} = ${N}`,
  )
  t.equal(
    value(m1.samples, 'switchyard_requests_total', { app: 'default', color: 'green', code: '502' }),
    K,
    `requests_total{green,502} = ${K}`,
  )
  const allRequests = find(m1.samples, 'switchyard_requests_total', { app: 'default' }).reduce((n, s) => n + s.value, 0)
  t.equal(allRequests, N + K, 'nothing else counted')

  const upErrors = find(m1.samples, 'switchyard_upstream_errors_total', { app: 'default', color: 'green' })
  t.equal(
    upErrors.reduce((n, s) => n + s.value, 0),
    K,
    `upstream_errors_total{green} = ${K}`,
  )
  t.ok(
    upErrors.every((s) => s.labels.kind === 'connect' || s.labels.kind === 'no-target'),
    `kinds: ${upErrors.map((s) => `${s.labels.kind}=${s.value}`).join(', ')}`,
  )
  t.ok(
    (value(m1.samples, 'switchyard_upstream_errors_total', { app: 'default', color: 'green', kind: 'connect' }) ?? 0) >= 1,
    'the first one is a connect failure',
  )
  t.equal(
    find(m1.samples, 'switchyard_upstream_errors_total', { app: 'default', color: 'blue' }).reduce((n, s) => n + s.value, 0),
    0,
    'none on blue',
  )

  for (const [color, n] of [
    ['blue', N],
    ['green', K],
  ] as const) {
    t.equal(
      value(m1.samples, 'switchyard_request_duration_seconds_count', { app: 'default', color }),
      n,
      `duration _count{${color}} = ${n}`,
    )
    t.equal(
      value(m1.samples, 'switchyard_request_duration_seconds_bucket', { app: 'default', color, le: '+Inf' }),
      n,
      `_bucket{${color},+Inf} = ${n}`,
    )
    const sum = value(m1.samples, 'switchyard_request_duration_seconds_sum', { app: 'default', color })
    t.ok(sum !== undefined && sum > 0 && sum < n * 10, `_sum{${color}} is a plausible duration (${sum})`)
    const buckets = find(m1.samples, 'switchyard_request_duration_seconds_bucket', { app: 'default', color })
    t.ok(buckets.length >= 2, 'several buckets')
    const cumulative = buckets.map((b) => b.value)
    t.same(
      cumulative,
      [...cumulative].sort((a, b) => a - b),
      'buckets are cumulative',
    )
    t.ok(buckets.some((b) => b.labels.le === '0.001') && buckets.some((b) => b.labels.le === '10'), 'buckets from 1 ms to 10 s')
  }
  t.ok((value(m1.samples, 'process_cpu_user_seconds_total') ?? 0) > 0, 'default process metrics')
  t.ok(find(m1.samples, 'nodejs_heap_size_used_bytes').length === 1, 'default Node metrics')

  // a canary: canary_percent and state_version follow
  const canary = await admin(router.adminUrl, 'PUT', '/v1/canary', { percent: 12.5, force: true })
  t.equal(canary.status, 200)
  const m2 = await metrics(router)
  t.equal(value(m2.samples, 'switchyard_canary_percent', { app: 'default' }), 12.5)
  t.equal(value(m2.samples, 'switchyard_state_version', { app: 'default' }), canary.json.state.version)

  // a flip: flips_total, live_color, last_flip_timestamp_seconds, state_version
  const flip = await admin(router.adminUrl, 'POST', '/v1/flip', { reason: 'metrics' })
  t.equal(flip.status, 200)
  const s3 = await state(router)
  t.equal(s3.live, 'green')
  const m3 = await metrics(router)
  t.equal(value(m3.samples, 'switchyard_flips_total', { app: 'default' }), 1, 'flips_total 1')
  t.equal(value(m3.samples, 'switchyard_live_color', { app: 'default', color: 'green' }), 1, 'live_color{green} 1')
  t.equal(value(m3.samples, 'switchyard_live_color', { app: 'default', color: 'blue' }), 0, 'live_color{blue} 0')
  t.equal(value(m3.samples, 'switchyard_canary_percent', { app: 'default' }), 0, 'the flip ended the canary')
  t.equal(value(m3.samples, 'switchyard_state_version', { app: 'default' }), s3.version, 'state_version = GET /v1/state version')
  const lastFlip = value(m3.samples, 'switchyard_last_flip_timestamp_seconds', { app: 'default' }) ?? 0
  t.type(s3.lastFlipAt, 'string')
  t.ok(
    Math.abs(lastFlip - Date.parse(s3.lastFlipAt) / 1000) < 0.002,
    `last_flip_timestamp_seconds = lastFlipAt (${lastFlip} vs ${s3.lastFlipAt})`,
  )
  t.equal(value(m3.samples, 'switchyard_auto_reverts_total', { app: 'default' }), 0, 'no auto-revert (disabled)')
  // the counters of traffic did not move without traffic
  t.equal(value(m3.samples, 'switchyard_requests_total', { app: 'default', color: 'blue', code: '200' }), N)
})

t.test('a webhook receiver gets the auto-revert event', async (t) => {
  const hook = await startWebhookReceiver()
  t.teardown(() => hook.close())
  const { green, router, traffic } = await setup(t, {
    stickiness: { header: 'x-user-id' },
    ...autoRevert(),
    notify: { webhooks: [hook.url], timeoutMs: 5000, retries: 3 },
  })
  green.status = 500

  const put = await admin(router.adminUrl, 'PUT', '/v1/canary', { percent: 30, force: true })
  t.equal(put.status, 200)
  traffic.startBackground(3)
  const event = await waitFor('the auto-revert webhook', () => hook.received.find((r) => r.body?.entry?.action === 'auto-revert'))
  await traffic.stop()

  t.match(event.headers['content-type'], /^application\/json/)
  t.equal(event.body.type, 'switchyard.change')
  t.match(event.body.text, /auto-revert/, 'a chat-ready text')
  t.match(event.body.text, /green error rate 100\.0%/, 'naming the measured rate')
  checkCanaryRevertEntry(t, event.body.entry)
  t.equal(event.body.state?.canary, 0, 'the new state is in the event')
  t.equal(event.body.state?.live, 'blue')
  const s = await state(router)
  t.equal(event.body.entry.version, s.version, 'the event is the stored change')
  t.ok(
    hook.received.some((r) => r.body?.entry?.action === 'canary' && r.body.entry.to === 30),
    'the manual canary change was delivered too',
  )
})
