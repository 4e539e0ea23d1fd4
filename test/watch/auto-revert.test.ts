import t from 'tap'
import { AutoRevert, verdict, watchedColors, type IntervalTimers } from '../../src/control/auto-revert.js'
import { ErrorWindows } from '../../src/control/windows.js'
import type { State } from '../../src/routing/index.js'
import { FakeService, fakeClock, memoryLogger, stateV, T0 } from './helpers.js'

const settings = { enabled: true, maxErrorRate: 0.05, minRequests: 20, windowSeconds: 30, watchSecondsAfterFlip: 300 }

function setup(state: State, over: Partial<typeof settings> = {}) {
  const clock = fakeClock()
  const service = new FakeService(state)
  const windows = new ErrorWindows({ windowSeconds: 30, now: clock.now })
  service.on('change', windows.onChange)
  const logger = memoryLogger()
  const ar = new AutoRevert({ service, windows, settings: { ...settings, ...over }, clock: clock.now, logger })
  /** `n` requests to `color`, `errors` of them 5xx */
  const traffic = (color: 'blue' | 'green', n: number, errors: number) => {
    for (let i = 0; i < n; i++) windows.request(color, i < errors ? 500 : 200, 0.01, null)
  }
  return { clock, service, windows, logger, ar, traffic }
}

t.test('verdict needs minRequests; the threshold itself is healthy', async (t) => {
  const th = { maxErrorRate: 0.05, minRequests: 20 }
  t.equal(verdict({ requests: 19, errors: 19, errorRate: 1 }, th), 'not-enough-data')
  t.equal(verdict({ requests: 20, errors: 1, errorRate: 0.05 }, th), 'healthy')
  t.equal(verdict({ requests: 20, errors: 2, errorRate: 0.1 }, th), 'breach')
  t.equal(verdict({ requests: 0, errors: 0, errorRate: 0 }, { maxErrorRate: 0, minRequests: 1 }), 'not-enough-data')
})

t.test('watchedColors', async (t) => {
  const now = T0 + 60_000
  t.same([...watchedColors(stateV(1), now, 300)], [])
  t.same([...watchedColors(stateV(1, { canary: 5 }), now, 300)], [['green', 'canary']])
  const flipped = stateV(2, { live: 'green', previous: 'blue', lastFlipAt: new Date(T0).toISOString() })
  t.same([...watchedColors(flipped, now, 300)], [['green', 'after-flip']])
  t.same([...watchedColors(flipped, T0 + 300_000, 300)], [], 'the watch ends after watchSecondsAfterFlip')
  t.same(
    [...watchedColors({ ...flipped, canary: 5 }, now, 300)],
    [
      ['blue', 'canary'],
      ['green', 'after-flip'],
    ],
  )
  const rollout = {
    id: 'r',
    color: 'blue' as const,
    steps: [{ percent: 5, holdSeconds: 1 }],
    autoPromote: true,
    stepIndex: 0,
    status: 'paused' as const,
    stepStartedAt: '',
    heldMs: 0,
    startedAt: '',
  }
  t.same([...watchedColors({ ...flipped, canary: 5, rollout }, T0 + 400_000, 300)], [['blue', 'rollout']])
})

t.test('canary: under minRequests nothing happens, however bad', async (t) => {
  const { ar, traffic, service, logger } = setup(stateV(1, { canary: 30 }))
  traffic('green', 19, 19)
  const out = await ar.tick()
  t.match(out, { color: 'green', reason: 'canary', verdict: 'not-enough-data', reverted: null })
  t.equal(service.updates, 0)
  t.equal(service.state.canary, 30)
  t.match(logger.lines, [{ level: 'info', msg: 'auto-revert: not enough data' }])
  await ar.tick()
  t.equal(logger.lines.length, 1, 'the same verdict is not logged again')
})

t.test('canary: a breach sets the canary to 0 with the measured rate in the history', async (t) => {
  const { ar, traffic, service, logger, clock } = setup(stateV(1, { canary: 30 }))
  traffic('green', 40, 20)
  traffic('blue', 100, 0)
  clock.advance(1234)
  const out = await ar.tick()
  t.equal(out.verdict, 'breach')
  t.equal(service.state.canary, 0)
  t.equal(service.state.live, 'blue')
  const [e] = service.history
  t.same(e, {
    at: new Date(T0 + 1234).toISOString(),
    version: 2,
    action: 'auto-revert',
    from: 30,
    to: 0,
    actor: 'switchyard',
    reason: 'green error rate 50.0% > 5.0% over 40 requests in 30 s',
    detail: { color: 'green', errorRate: 0.5, requests: 40, errors: 20, windowSeconds: 30, maxErrorRate: 0.05 },
  })
  t.same(service.options[0], { actor: 'switchyard', reason: e.reason })
  t.match(logger.lines.at(-1), { level: 'warn', msg: /auto-revert: green error rate 50.0%/ })
  const again = await ar.tick()
  t.same(again, { color: null, reason: null, verdict: null, reverted: null }, 'canary 0: nothing watched')
  t.equal(service.updates, 1)
})

t.test('healthy canary stays; at the threshold stays', async (t) => {
  const { ar, traffic, service } = setup(stateV(1, { canary: 30 }))
  traffic('green', 100, 5)
  t.match(await ar.tick(), { verdict: 'healthy', reverted: null })
  t.equal(service.state.canary, 30)
})

t.test('revert happens once: the fresh state already reverted elsewhere', async (t) => {
  const { ar, traffic, service, logger } = setup(stateV(1, { canary: 30 }))
  traffic('green', 40, 40)
  service.race = (s) => ({ ...s, version: s.version + 1, canary: 0 }) // another instance was first
  const out = await ar.tick()
  t.equal(out.reverted, null)
  t.equal(service.history.length, 0, 'nothing written by this instance')
  t.match(logger.lines.at(-1), { msg: /done elsewhere/ })
})

t.test('a canary under a rollout is left to the rollout controller', async (t) => {
  const rollout = {
    id: 'r',
    color: 'green' as const,
    steps: [{ percent: 30, holdSeconds: 60 }],
    autoPromote: true,
    stepIndex: 0,
    status: 'running' as const,
    stepStartedAt: new Date(T0).toISOString(),
    heldMs: 0,
    startedAt: new Date(T0).toISOString(),
  }
  const { ar, traffic, service } = setup(stateV(1, { canary: 30, rollout }))
  traffic('green', 40, 40)
  t.same(await ar.tick(), { color: null, reason: null, verdict: null, reverted: null })
  t.equal(service.updates, 0)
})

t.test('after a flip: a breach on the new live color rolls back, once, and does not ping-pong', async (t) => {
  const { ar, traffic, service, clock, windows } = setup(stateV(1, { live: 'blue' }))
  // the flip, as the service would store it (windows reset on the change)
  traffic('green', 50, 50) // before the flip: must not count
  service.external(stateV(2, { live: 'green', previous: 'blue', lastFlipAt: new Date(T0).toISOString() }))
  t.equal(windows.snapshot('green').requests, 0, 'analysis restarted at the flip')
  clock.advance(10_000)
  traffic('green', 10, 10)
  t.match(await ar.tick(), { color: 'green', reason: 'after-flip', verdict: 'not-enough-data' })
  traffic('green', 30, 3) // 40 requests, 13 errors
  const out = await ar.tick()
  t.equal(out.verdict, 'breach')
  t.equal(service.state.live, 'blue')
  t.equal(service.state.previous, 'green')
  const [e] = service.history
  t.equal(e.action, 'auto-revert')
  t.equal(e.from, 'green')
  t.equal(e.to, 'blue')
  t.same(e.detail, { color: 'green', errorRate: 13 / 40, requests: 40, errors: 13, windowSeconds: 30, maxErrorRate: 0.05 })
  t.equal(service.state.lastFlipAt, new Date(T0 + 10_000).toISOString())
  // blue fails too now: no rollback back to the color just reverted away from
  traffic('blue', 40, 40)
  t.same(await ar.tick(), { color: null, reason: null, verdict: null, reverted: null })
  t.equal(service.history.length, 1)
})

t.test('after a flip: the watch ends after watchSecondsAfterFlip; a newer flip is not undone by a stale verdict', async (t) => {
  const flipAt = new Date(T0).toISOString()
  const { ar, traffic, service, clock } = setup(stateV(2, { live: 'green', previous: 'blue', lastFlipAt: flipAt }), {
    watchSecondsAfterFlip: 60,
  })
  clock.advance(60_000)
  traffic('green', 40, 40)
  t.same(await ar.tick(), { color: null, reason: null, verdict: null, reverted: null })
  // inside the watch, but someone flips again before the revert is stored
  clock.set(T0 + 1000)
  service.race = (s) => ({ ...s, version: s.version + 1, lastFlipAt: new Date(T0 + 500).toISOString() })
  const out = await ar.tick()
  t.equal(out.verdict, 'breach')
  t.equal(out.reverted, null)
  t.equal(service.state.live, 'green')
})

t.test('disabled: never acts, start does not schedule', async (t) => {
  const { traffic, service, windows, clock } = setup(stateV(1, { canary: 30 }))
  const calls: string[] = []
  const timers: IntervalTimers = { setInterval: () => (calls.push('set'), {}), clearInterval: () => calls.push('clear') }
  const ar = new AutoRevert({
    service,
    windows,
    settings: { ...settings, enabled: false },
    clock: clock.now,
    logger: memoryLogger(),
    timers,
  })
  traffic('green', 40, 40)
  t.same(await ar.tick(), { color: null, reason: null, verdict: null, reverted: null })
  ar.start()
  t.same(calls, [])
  t.equal(service.state.canary, 30)
})

t.test('store errors are logged and retried on the next tick', async (t) => {
  const { traffic, service, windows, clock } = setup(stateV(1, { canary: 30 }))
  const logger = memoryLogger()
  const ar = new AutoRevert({ service, windows, settings, clock: clock.now, logger })
  const update = service.update.bind(service)
  let fail = true
  service.update = async (tr, o) => {
    if (fail) {
      fail = false
      throw Object.assign(new Error('down'), { code: 'STORE_UNAVAILABLE' })
    }
    return update(tr, o)
  }
  traffic('green', 40, 40)
  t.same(await ar.tick(), { color: null, reason: null, verdict: null, reverted: null })
  t.match(logger.lines.at(-1), { level: 'error', msg: /could not be stored/ })
  t.equal((await ar.tick()).verdict, 'breach')
  t.equal(service.state.canary, 0)
})

t.test('start/stop drive tick on an interval; concurrent ticks share one evaluation', async (t) => {
  const { service, windows, clock, traffic } = setup(stateV(1, { canary: 30 }))
  let fire: (() => void) | null = null
  const calls: string[] = []
  const timers: IntervalTimers = {
    setInterval: (fn, ms) => {
      calls.push(`set ${ms}`)
      fire = fn
      return { unref: () => calls.push('unref') }
    },
    clearInterval: () => calls.push('clear'),
  }
  const ar = new AutoRevert({ service, windows, settings, clock: clock.now, logger: memoryLogger(), timers, intervalMs: 250 })
  ar.start()
  ar.start()
  t.same(calls, ['set 250', 'unref'])
  traffic('green', 40, 40)
  const a = ar.tick()
  const b = ar.tick()
  t.equal(a, b, 'one evaluation in flight at a time')
  ;(fire as unknown as () => void)()
  await a
  await ar.stop()
  t.same(calls, ['set 250', 'unref', 'clear'])
  t.equal(service.updates, 1)
  t.equal(service.state.canary, 0)
})
