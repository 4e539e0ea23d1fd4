import t from 'tap'
import { ErrorWindows, resetsFor } from '../../src/control/windows.js'
import { fakeClock, stateV, T0 } from './helpers.js'

t.test('counts per color; errors are 5xx or router failures', async (t) => {
  const clock = fakeClock()
  const w = new ErrorWindows({ windowSeconds: 10, now: clock.now })
  t.same(w.snapshot('blue'), { requests: 0, errors: 0, errorRate: 0 }, 'empty window: rate 0, no NaN')
  w.request('green', 200, 0.01, null)
  w.request('green', 404, 0.01, null)
  w.request('green', 499, 0.01, null)
  w.request('green', 500, 0.01, null)
  w.request('green', 503, 0.01, null)
  w.request('green', 502, 0.01, 'connect')
  w.request('green', 200, 0.01, 'reset')
  w.request('blue', 200, 0.01, null)
  t.same(w.snapshot('green'), { requests: 7, errors: 4, errorRate: 4 / 7 })
  t.same(w.snapshot('blue'), { requests: 1, errors: 0, errorRate: 0 })
})

t.test('bucket edges: a request leaves the window exactly windowSeconds after its second began', async (t) => {
  const clock = fakeClock(T0) // T0 is on a second boundary
  const w = new ErrorWindows({ windowSeconds: 3, now: clock.now })
  w.record('blue', true) // second 0
  clock.set(T0 + 999)
  w.record('blue', false) // still second 0
  t.equal(w.snapshot('blue').requests, 2)
  clock.set(T0 + 1000) // second 1
  w.record('blue', false)
  clock.set(T0 + 2999) // second 2: seconds 0..2 all in the window
  t.same(w.snapshot('blue'), { requests: 3, errors: 1, errorRate: 1 / 3 })
  clock.set(T0 + 3000) // second 3: second 0 falls out
  t.same(w.snapshot('blue'), { requests: 1, errors: 0, errorRate: 0 })
  clock.set(T0 + 3999)
  t.equal(w.snapshot('blue').requests, 1, 'second 1 still in')
  clock.set(T0 + 4000)
  t.equal(w.snapshot('blue').requests, 0, 'second 1 out')
})

t.test('a long gap zeroes the whole ring once; a clock stepping back counts into the newest bucket', async (t) => {
  const clock = fakeClock()
  const w = new ErrorWindows({ windowSeconds: 5, now: clock.now })
  for (let s = 0; s < 5; s++) {
    clock.set(T0 + s * 1000)
    w.record('green', s % 2 === 0)
  }
  t.same(w.snapshot('green'), { requests: 5, errors: 3, errorRate: 0.6 })
  clock.advance(3_600_000)
  t.same(w.snapshot('green'), { requests: 0, errors: 0, errorRate: 0 })
  w.record('green', true)
  clock.advance(-10_000)
  w.record('green', false)
  t.same(w.snapshot('green'), { requests: 2, errors: 1, errorRate: 0.5 })
  clock.advance(10_000 + 4_999)
  t.equal(w.snapshot('green').requests, 2, 'both were counted in the newest second')
  clock.advance(1)
  t.equal(w.snapshot('green').requests, 0)
})

t.test('many requests across wrap-arounds keep exact totals', async (t) => {
  const clock = fakeClock()
  const w = new ErrorWindows({ windowSeconds: 4, now: clock.now })
  // 10 requests per second for 20 seconds, one error per second
  for (let s = 0; s < 20; s++) {
    clock.set(T0 + s * 1000 + 500)
    for (let i = 0; i < 10; i++) w.record('blue', i === 0)
    const inWindow = Math.min(s + 1, 4)
    t.same(w.snapshot('blue'), { requests: inWindow * 10, errors: inWindow, errorRate: 0.1 }, `second ${s}`)
  }
})

t.test('reset forgets one color only', async (t) => {
  const clock = fakeClock()
  const w = new ErrorWindows({ windowSeconds: 30, now: clock.now })
  w.record('blue', true)
  w.record('green', true)
  w.reset('green')
  t.equal(w.snapshot('green').requests, 0)
  t.equal(w.snapshot('blue').requests, 1)
  w.record('green', false)
  t.same(w.snapshot('green'), { requests: 1, errors: 0, errorRate: 0 })
})

t.test('resetsFor: analysis restarts when what is watched changes', async (t) => {
  const rollout = {
    id: 'r1',
    color: 'green' as const,
    steps: [
      { percent: 10, holdSeconds: 5 },
      { percent: 20, holdSeconds: 5 },
    ],
    autoPromote: true,
    stepIndex: 0,
    status: 'running' as const,
    stepStartedAt: '',
    heldMs: 0,
    startedAt: '',
  }
  const cases: [string, ReturnType<typeof stateV>, ReturnType<typeof stateV>, string[]][] = [
    ['flip', stateV(1), stateV(2, { live: 'green' }), ['blue', 'green']],
    ['canary leaves 0', stateV(1), stateV(2, { canary: 5 }), ['green']],
    ['canary leaves 0 on green live', stateV(1, { live: 'green' }), stateV(2, { live: 'green', canary: 5 }), ['blue']],
    ['canary moves up', stateV(1, { canary: 5 }), stateV(2, { canary: 10 }), []],
    ['canary to 0', stateV(1, { canary: 5 }), stateV(2, { canary: 0 }), []],
    ['new rollout', stateV(1, { canary: 5 }), stateV(2, { canary: 10, rollout }), ['green']],
    ['next step', stateV(1, { canary: 10, rollout }), stateV(2, { canary: 20, rollout: { ...rollout, stepIndex: 1 } }), ['green']],
    ['other rollout id', stateV(1, { canary: 10, rollout }), stateV(2, { canary: 10, rollout: { ...rollout, id: 'r2' } }), ['green']],
    ['pause', stateV(1, { canary: 10, rollout }), stateV(2, { canary: 10, rollout: { ...rollout, status: 'paused' } }), []],
    ['cohort only', stateV(1), stateV(2), []],
  ]
  for (const [name, a, b, want] of cases) t.same(resetsFor(a, b), want, name)
})

t.test('onChange (a bound listener) resets per resetsFor', async (t) => {
  const clock = fakeClock()
  const w = new ErrorWindows({ windowSeconds: 30, now: clock.now })
  w.record('blue', true)
  w.record('green', true)
  const listener = w.onChange
  listener({ app: 'default', previous: stateV(1), state: stateV(2, { canary: 1 }), entry: null })
  t.equal(w.snapshot('green').requests, 0)
  t.equal(w.snapshot('blue').requests, 1)
  listener({ app: 'default', previous: stateV(2), state: stateV(3, { live: 'green' }), entry: null })
  t.equal(w.snapshot('blue').requests, 0)
})
