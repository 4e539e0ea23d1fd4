import t from 'tap'
import { AutoRevert } from '../../src/control/auto-revert.js'
import { RolloutController } from '../../src/control/rollout-controller.js'
import { ErrorWindows } from '../../src/control/windows.js'
import type { SmokeGate, SmokeReport } from '../../src/control/types.js'
import type { Color, State } from '../../src/routing/index.js'
import { FakeService, fakeClock, memoryLogger, stateV, T0 } from './helpers.js'

const thresholds = { maxErrorRate: 0.05, minRequests: 20 }
const steps = [
  { percent: 10, holdSeconds: 60 },
  { percent: 50, holdSeconds: 60 },
  { percent: 100, holdSeconds: 30 },
]

function setup(state: State = stateV(1, { previous: null })) {
  const clock = fakeClock()
  const service = new FakeService(state)
  const windows = new ErrorWindows({ windowSeconds: 30, now: clock.now })
  service.on('change', windows.onChange)
  const logger = memoryLogger()
  const smokeCalls: Color[] = []
  let smokeOk = true
  const smoke: SmokeGate = {
    async run(color): Promise<SmokeReport> {
      smokeCalls.push(color)
      return {
        color,
        ok: smokeOk,
        checks: [{ path: '/health', target: 'http://x', ok: smokeOk, status: smokeOk ? 200 : 500, error: null, ms: 1 }],
      }
    },
  }
  let ids = 0
  const rc = new RolloutController({ service, windows, thresholds, clock: clock.now, logger, smoke, newId: () => `r${++ids}` })
  const traffic = (color: Color, n: number, errors: number) => {
    for (let i = 0; i < n; i++) windows.request(color, i < errors ? 503 : 200, 0.01, null)
  }
  return { clock, service, windows, logger, rc, traffic, smokeCalls, setSmoke: (ok: boolean) => (smokeOk = ok) }
}

t.test('begin: smoke on the idle color first, then the first step', async (t) => {
  const { rc, service, smokeCalls } = setup()
  const r = await rc.begin({ steps, autoPromote: true }, { actor: 'ops', reason: 'v2' })
  t.equal(r.changed, true)
  t.same(smokeCalls, ['green'])
  t.equal(service.state.canary, 10)
  t.match(service.state.rollout, { id: 'r1', color: 'green', stepIndex: 0, status: 'running', stepStartedAt: new Date(T0).toISOString() })
  t.match(service.history[0], { action: 'rollout', actor: 'ops', reason: 'v2', detail: { op: 'start', step: 0, percent: 10 } })
  t.same(rc.current, service.state.rollout)
  await t.rejects(rc.begin({ steps }, { actor: 'ops' }), { code: 'ROLLOUT_ACTIVE' })
})

t.test('begin refusals leave the state as it was', async (t) => {
  const { rc, service, setSmoke, smokeCalls } = setup()
  setSmoke(false)
  await t.rejects(rc.begin({ steps }, { actor: 'ops' }), {
    code: 'SMOKE_FAILED',
    details: { color: 'green', checks: [{ ok: false, status: 500 }] },
  })
  t.equal(service.state.version, 1)
  await t.rejects(
    rc.begin(
      {
        steps: [
          { percent: 50, holdSeconds: 1 },
          { percent: 20, holdSeconds: 1 },
        ],
      },
      { actor: 'ops', force: true },
    ),
    {
      code: 'BAD_REQUEST',
      message: /steps\[1\]/,
    },
  )
  t.equal(service.state.version, 1)
  // the live color changed while the checks ran
  service.race = (s) => ({ ...s, version: s.version + 1, live: 'green', previous: 'blue' })
  setSmoke(true)
  await t.rejects(rc.begin({ steps }, { actor: 'ops' }), { code: 'VERSION_MISMATCH' })
  t.equal(service.state.rollout, null)
  const forced = await rc.begin({ steps }, { actor: 'ops', force: true })
  t.equal(forced.state.rollout?.color, 'blue')
  t.equal(smokeCalls.length, 2, 'force skipped the checks')
})

t.test('steps advance only after the hold, with enough healthy data; then promote', async (t) => {
  const { rc, service, clock, traffic, windows, logger } = setup()
  await rc.begin({ steps }, { actor: 'ops' })
  t.same(await rc.tick(), { action: 'hold', verdict: 'not-enough-data', why: 'holding', result: null })
  traffic('green', 100, 1)
  clock.advance(59_999)
  t.match(await rc.tick(), { action: 'hold', why: 'holding' }, 'healthy but the hold is not served')
  clock.advance(1)
  t.match(
    await rc.tick(),
    { action: 'hold', verdict: 'not-enough-data', why: 'not enough data' },
    'the earlier traffic left the 30 s window',
  )
  t.equal(service.state.canary, 10)
  traffic('green', 19, 0)
  t.match(await rc.tick(), { why: 'not enough data' }, '19 < minRequests')
  traffic('green', 1, 0)
  const a = await rc.tick()
  t.equal(a.action, 'advance')
  t.equal(a.verdict, 'healthy')
  t.equal(service.state.canary, 50)
  t.equal(service.state.rollout?.stepIndex, 1)
  t.equal(service.state.rollout?.stepStartedAt, new Date(T0 + 60_000).toISOString())
  t.equal(windows.snapshot('green').requests, 0, 'analysis restarts for the new step')
  t.match(service.history[0], { action: 'rollout', actor: 'switchyard', from: 10, to: 50, detail: { op: 'advance', step: 1, percent: 50 } })

  clock.advance(60_000)
  traffic('green', 40, 2) // exactly 5%: healthy
  t.equal((await rc.tick()).action, 'advance')
  t.equal(service.state.canary, 100)
  clock.advance(30_000)
  traffic('green', 20, 0)
  const p = await rc.tick()
  t.equal(p.action, 'promote')
  t.equal(service.state.live, 'green')
  t.equal(service.state.previous, 'blue')
  t.equal(service.state.canary, 0)
  t.equal(service.state.rollout, null)
  t.match(service.history[0], { action: 'rollout', from: 'blue', to: 'green', detail: { op: 'promote' } })
  t.same(await rc.tick(), { action: 'none', verdict: null, why: null, result: null })
  t.ok(logger.lines.some((l) => l.msg === 'rollout: not enough data'))
})

t.test('without autoPromote the rollout waits at the last step for promote', async (t) => {
  const { rc, service, clock, traffic, smokeCalls, setSmoke } = setup()
  await rc.begin({ steps: [{ percent: 20, holdSeconds: 10 }], autoPromote: false }, { actor: 'ops' })
  clock.advance(10_000)
  traffic('green', 30, 0)
  t.equal((await rc.tick()).action, 'await-promotion')
  t.equal(service.state.rollout?.status, 'awaiting-promotion')
  t.equal(service.state.canary, 20)
  clock.advance(100_000)
  traffic('green', 30, 0)
  t.match(await rc.tick(), { action: 'hold', why: 'awaiting promotion' })
  setSmoke(false)
  await t.rejects(rc.promote({ actor: 'ops' }), { code: 'SMOKE_FAILED' })
  t.equal(service.state.live, 'blue')
  setSmoke(true)
  const r = await rc.promote({ actor: 'ops', reason: 'looks good' })
  t.equal(r.state.live, 'green')
  t.equal(r.state.rollout, null)
  t.same(smokeCalls, ['green', 'green', 'green'])
  await t.rejects(rc.promote({ actor: 'ops' }), { code: 'NO_ROLLOUT' })
})

t.test('pause stops the hold clock; resume continues it', async (t) => {
  const { rc, service, clock, traffic } = setup()
  await rc.begin({ steps }, { actor: 'ops' })
  clock.advance(20_000)
  t.equal((await rc.pause({ actor: 'ops' })).changed, true)
  t.equal((await rc.pause({ actor: 'ops' })).changed, false, 'pausing twice changes nothing')
  clock.advance(600_000)
  traffic('green', 50, 0)
  t.match(await rc.tick(), { action: 'hold', why: 'paused', verdict: 'healthy' })
  t.equal(service.state.canary, 10, 'a paused rollout keeps its canary')
  await rc.resume({ actor: 'ops' })
  clock.advance(39_999)
  traffic('green', 50, 0)
  t.match(await rc.tick(), { why: 'holding' }, '20 s + 39.999 s served')
  clock.advance(1)
  t.equal((await rc.tick()).action, 'advance')
})

t.test('abort sets the canary to 0; with no rollout the operations answer NO_ROLLOUT', async (t) => {
  const { rc, service } = setup()
  await rc.begin({ steps }, { actor: 'ops' })
  const r = await rc.abort({ actor: 'ops', reason: 'changed my mind' })
  t.equal(r.state.canary, 0)
  t.equal(r.state.rollout, null)
  t.match(service.history[0], { action: 'rollout', reason: 'changed my mind', detail: { op: 'abort' } })
  await t.rejects(rc.abort({ actor: 'ops' }), { code: 'NO_ROLLOUT' })
  await t.rejects(rc.pause({ actor: 'ops' }), { code: 'NO_ROLLOUT' })
  await t.rejects(rc.resume({ actor: 'ops' }), { code: 'NO_ROLLOUT' })
  await t.rejects(rc.promote({ actor: 'ops' }), { code: 'NO_ROLLOUT' })
})

t.test('a breach reverts once, with the measured rate, even while paused', async (t) => {
  const { rc, service, traffic, logger } = setup()
  await rc.begin({ steps }, { actor: 'ops' })
  await rc.pause({ actor: 'ops' })
  traffic('green', 30, 6)
  const out = await rc.tick()
  t.equal(out.action, 'revert')
  t.equal(service.state.canary, 0)
  t.equal(service.state.rollout, null)
  t.same(service.history[0].detail, {
    op: 'abort',
    step: 0,
    percent: 0,
    color: 'green',
    errorRate: 0.2,
    requests: 30,
    errors: 6,
    windowSeconds: 30,
    maxErrorRate: 0.05,
    rollout: 'r1',
  })
  t.equal(service.history[0].action, 'auto-revert')
  t.match(service.history[0].reason, /green error rate 20.0% > 5.0% over 30 requests/)
  t.ok(logger.lines.some((l) => l.level === 'warn' && /rollout reverted/.test(l.msg ?? '')))
  t.equal((await rc.tick()).action, 'none')
  t.equal(service.history.filter((e) => e.action === 'auto-revert').length, 1)
})

t.test('several instances: the step and the revert are written once', async (t) => {
  const { rc, service, clock, traffic } = setup()
  await rc.begin({ steps }, { actor: 'ops' })
  clock.advance(60_000)
  traffic('green', 20, 0)
  // another instance advanced this step just before
  service.race = (s) => ({ ...s, version: s.version + 1, canary: 50, rollout: { ...s.rollout!, stepIndex: 1 } })
  const a = await rc.tick()
  t.equal(a.action, 'advance')
  t.equal(a.result, null, 'nothing written here')
  t.equal(service.history.length, 1)
  traffic('green', 20, 20)
  service.race = (s) => ({ ...s, version: s.version + 1, canary: 0, rollout: null })
  const b = await rc.tick()
  t.equal(b.action, 'revert')
  t.equal(b.result, null)
  t.equal(service.history.length, 1)
})

t.test('with AutoRevert running too, a rollout breach is reverted exactly once', async (t) => {
  const { rc, service, traffic, windows, clock } = setup()
  const ar = new AutoRevert({
    service,
    windows,
    settings: { ...thresholds, enabled: true, watchSecondsAfterFlip: 300 },
    clock: clock.now,
    logger: memoryLogger(),
  })
  await rc.begin({ steps }, { actor: 'ops' })
  traffic('green', 40, 40)
  await Promise.all([ar.tick(), rc.tick(), ar.tick(), rc.tick()])
  t.equal(service.history.filter((e) => e.action === 'auto-revert').length, 1)
  t.equal(service.state.canary, 0)
})

t.test('a restarted router carries on from the state', async (t) => {
  const { service, clock, windows, traffic } = setup()
  const stepStartedAt = new Date(T0 - 50_000).toISOString()
  service.external(
    stateV(5, {
      canary: 50,
      rollout: {
        id: 'old',
        color: 'green',
        steps,
        autoPromote: true,
        stepIndex: 1,
        status: 'running',
        stepStartedAt,
        heldMs: 5_000,
        startedAt: stepStartedAt,
      },
    }),
  )
  const rc = new RolloutController({ service, windows, thresholds, clock: clock.now, logger: memoryLogger() })
  traffic('green', 20, 0)
  t.match(await rc.tick(), { why: 'holding' }, '55 s of 60 served')
  clock.advance(5_000)
  const a = await rc.tick()
  t.equal(a.action, 'advance')
  t.equal(service.state.canary, 100)
})

t.test('errors while storing are logged; start/stop schedule and clear the loop', async (t) => {
  const { service, clock, windows, traffic } = setup()
  const logger = memoryLogger()
  const calls: string[] = []
  let fire: () => void = () => {}
  const rc = new RolloutController({
    service,
    windows,
    thresholds,
    clock: clock.now,
    logger,
    intervalMs: 300,
    timers: {
      setInterval: (fn, ms) => {
        fire = fn
        calls.push(`set ${ms}`)
        return {}
      },
      clearInterval: () => calls.push('clear'),
    },
  })
  await rc.begin({ steps }, { actor: 'ops' })
  traffic('green', 40, 40)
  const update = service.update.bind(service)
  service.update = async () => {
    throw new Error('store down')
  }
  rc.start()
  rc.start()
  fire()
  t.same(await rc.tick(), { action: 'none', verdict: null, why: null, result: null })
  t.match(logger.lines.at(-1), { level: 'error', msg: /could not be stored/ })
  service.update = update
  t.equal((await rc.tick()).action, 'revert')
  await rc.stop()
  t.same(calls, ['set 300', 'clear'])
})
