import t from 'tap'
import {
  abort,
  advance,
  heldMs,
  holdElapsed,
  MAX_STEPS,
  pause,
  promote,
  resume,
  startRollout,
  validatePlan,
} from '../../src/routing/rollout.js'
import type { ChangeContext } from '../../src/routing/transitions.js'
import type { RolloutStep, State } from '../../src/routing/types.js'

const T0 = Date.parse('2025-01-01T00:00:00.000Z')
const ctxAt = (ms: number, reason: string | null = null): ChangeContext => ({
  at: new Date(T0 + ms).toISOString(),
  actor: 'tester',
  reason,
})

function base(over: Partial<State> = {}): State {
  return {
    version: 7,
    live: 'blue',
    previous: 'green',
    canary: 0,
    cohorts: [],
    rollout: null,
    updatedAt: ctxAt(0).at,
    lastFlipAt: null,
    mirror: 0,
    ...over,
  }
}

const plan3: RolloutStep[] = [
  { percent: 10, holdSeconds: 60 },
  { percent: 50, holdSeconds: 60 },
  { percent: 100, holdSeconds: 30 },
]

t.test('validatePlan accepts rising plans with two decimals', async (t) => {
  t.doesNotThrow(() => validatePlan(plan3))
  t.doesNotThrow(() =>
    validatePlan([
      { percent: 0.01, holdSeconds: 1 },
      { percent: 12.34, holdSeconds: 1 },
    ]),
  )
  t.doesNotThrow(() => validatePlan(Array.from({ length: MAX_STEPS }, (_, i) => ({ percent: i + 1, holdSeconds: 1 }))))
})

t.test('validatePlan refuses bad plans with BAD_REQUEST naming the step', async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ['not an array', 'nope', /1 to 20 steps/],
    ['empty', [], /1 to 20 steps/],
    ['too many', Array.from({ length: MAX_STEPS + 1 }, (_, i) => ({ percent: i + 1, holdSeconds: 1 })), /1 to 20 steps/],
    ['zero percent', [{ percent: 0, holdSeconds: 1 }], /steps\[0\]\.percent must be above 0/],
    ['negative', [{ percent: -5, holdSeconds: 1 }], /steps\[0\]\.percent/],
    [
      'over 100',
      [
        { percent: 10, holdSeconds: 1 },
        { percent: 100.5, holdSeconds: 1 },
      ],
      /steps\[1\]\.percent must be above 0 and at most 100/,
    ],
    ['NaN', [{ percent: Number.NaN, holdSeconds: 1 }], /steps\[0\]\.percent/],
    ['string percent', [{ percent: '10', holdSeconds: 1 }], /steps\[0\]\.percent/],
    ['three decimals', [{ percent: 12.345, holdSeconds: 1 }], /more than two decimals/],
    [
      'equal',
      [
        { percent: 10, holdSeconds: 1 },
        { percent: 10, holdSeconds: 1 },
      ],
      /steps\[1\]\.percent \(10\) must be above the previous step's \(10\)/,
    ],
    [
      'falling',
      [
        { percent: 50, holdSeconds: 1 },
        { percent: 20, holdSeconds: 1 },
      ],
      /steps\[1\]/,
    ],
    ['hold zero', [{ percent: 10, holdSeconds: 0 }], /holdSeconds must be a whole number/],
    ['hold fraction', [{ percent: 10, holdSeconds: 1.5 }], /steps\[0\]\.holdSeconds/],
  ]
  for (const [name, steps, message] of cases) {
    t.throws(() => validatePlan(steps as RolloutStep[]), { code: 'BAD_REQUEST', status: 400, message }, name)
  }
})

t.test('startRollout sets the first step and records it', async (t) => {
  const c = startRollout(base({ canary: 0 }), ctxAt(0, 'release 42'), { steps: plan3, autoPromote: false }, 'r1')
  t.equal(c.state.version, 8)
  t.equal(c.state.canary, 10)
  t.same(c.state.rollout, {
    id: 'r1',
    color: 'green',
    steps: plan3,
    autoPromote: false,
    stepIndex: 0,
    status: 'running',
    stepStartedAt: ctxAt(0).at,
    heldMs: 0,
    startedAt: ctxAt(0).at,
  })
  t.not(c.state.rollout?.steps, plan3, 'the plan is copied, not shared')
  t.same(c.entry, {
    at: ctxAt(0).at,
    version: 8,
    action: 'rollout',
    from: 0,
    to: 10,
    actor: 'tester',
    reason: 'release 42',
    detail: { op: 'start', step: 0, percent: 10, id: 'r1' },
  })
  t.equal(startRollout(base(), ctxAt(0), { steps: plan3 }, 'r2').state.rollout?.autoPromote, true, 'autoPromote defaults to true')
  t.equal(startRollout(base({ live: 'green' }), ctxAt(0), { steps: plan3 }, 'r3').state.rollout?.color, 'blue')
})

t.test('startRollout refuses a second rollout and a bad plan, state untouched', async (t) => {
  const s = startRollout(base(), ctxAt(0), { steps: plan3 }, 'r1').state
  const frozen = JSON.stringify(s)
  t.throws(() => startRollout(s, ctxAt(1), { steps: plan3 }, 'r2'), { code: 'ROLLOUT_ACTIVE', status: 409 })
  t.throws(() => startRollout(base(), ctxAt(1), { steps: [] }, 'r2'), { code: 'BAD_REQUEST' })
  t.equal(JSON.stringify(s), frozen)
})

t.test('hold time: running counts the clock, paused keeps what was served', async (t) => {
  let s = startRollout(base(), ctxAt(0), { steps: plan3 }, 'r1').state
  t.equal(heldMs(s.rollout!, T0 + 59_999), 59_999)
  t.equal(holdElapsed(s.rollout!, T0 + 59_999), false)
  t.equal(holdElapsed(s.rollout!, T0 + 60_000), true)
  t.equal(heldMs(s.rollout!, T0 - 5_000), 0, 'a clock behind stepStartedAt counts as nothing served')
  s = pause(s, ctxAt(20_000))!.state
  t.equal(s.rollout?.status, 'paused')
  t.equal(s.rollout?.heldMs, 20_000)
  t.equal(heldMs(s.rollout!, T0 + 1_000_000), 20_000, 'paused time does not count')
  t.equal(holdElapsed(s.rollout!, T0 + 1_000_000), false)
  s = resume(s, ctxAt(500_000))!.state
  t.equal(s.rollout?.status, 'running')
  t.equal(s.rollout?.stepStartedAt, ctxAt(500_000).at)
  t.equal(heldMs(s.rollout!, T0 + 539_999), 59_999)
  t.equal(holdElapsed(s.rollout!, T0 + 540_000), true, 'resumes where it stopped (restart-safe: all in the state)')
})

t.test('advance walks the steps and promotes at the end', async (t) => {
  let s = startRollout(base(), ctxAt(0), { steps: plan3 }, 'r1').state
  const c1 = advance(s, ctxAt(60_000), 'r1', 0)!
  t.equal(c1.state.canary, 50)
  t.equal(c1.state.rollout?.stepIndex, 1)
  t.equal(c1.state.rollout?.stepStartedAt, ctxAt(60_000).at)
  t.equal(c1.state.rollout?.heldMs, 0)
  t.same(c1.entry.detail, { op: 'advance', step: 1, percent: 50 })
  t.equal(c1.entry.action, 'rollout')
  t.equal(c1.entry.from, 10)
  t.equal(c1.entry.to, 50)
  s = c1.state
  t.equal(advance(s, ctxAt(60_000), 'r1', 0), null, 'a stale step index (another instance advanced) is a no-op')
  t.equal(advance(s, ctxAt(60_000), 'other', 1), null, 'another rollout id is a no-op')
  s = advance(s, ctxAt(120_000), 'r1', 1)!.state
  t.equal(s.canary, 100)
  const done = advance(s, ctxAt(150_000), 'r1', 2)!
  t.equal(done.state.live, 'green')
  t.equal(done.state.previous, 'blue')
  t.equal(done.state.canary, 0)
  t.equal(done.state.rollout, null)
  t.equal(done.state.lastFlipAt, ctxAt(150_000).at)
  t.equal(done.entry.action, 'rollout')
  t.equal(done.entry.from, 'blue')
  t.equal(done.entry.to, 'green')
  t.same(done.entry.detail, { op: 'promote', step: 2, percent: 100 })
  t.equal(advance(done.state, ctxAt(150_000), 'r1', 2), null, 'no rollout: no-op')
})

t.test('without autoPromote the last step waits for promote', async (t) => {
  let s = startRollout(base(), ctxAt(0), { steps: [{ percent: 25, holdSeconds: 5 }], autoPromote: false }, 'r1').state
  const c = advance(s, ctxAt(5_000), 'r1', 0)!
  t.equal(c.state.rollout?.status, 'awaiting-promotion')
  t.equal(c.state.canary, 25, 'the canary stays where it is')
  t.same(c.entry.detail, { op: 'await-promotion', step: 0, percent: 25 })
  s = c.state
  t.equal(advance(s, ctxAt(6_000), 'r1', 0), null, 'not running: no-op')
  t.equal(pause(s, ctxAt(6_000)), null, 'awaiting promotion cannot be paused')
  t.equal(resume(s, ctxAt(6_000)), null, 'nor resumed')
  const p = promote(s, ctxAt(7_000))
  t.equal(p.state.live, 'green')
  t.equal(p.state.rollout, null)
})

t.test('pause and resume are idempotent', async (t) => {
  const s = startRollout(base(), ctxAt(0), { steps: plan3 }, 'r1').state
  t.equal(resume(s, ctxAt(1)), null, 'running cannot be resumed')
  const paused = pause(s, ctxAt(1_000))!
  t.same(paused.entry.detail, { op: 'pause', step: 0, percent: 10 })
  t.equal(paused.state.canary, 10, 'pausing keeps the canary')
  t.equal(pause(paused.state, ctxAt(2_000)), null)
  t.equal(advance(paused.state, ctxAt(100_000), 'r1', 0), null, 'a paused rollout never advances')
  const resumed = resume(paused.state, ctxAt(3_000))!
  t.same(resumed.entry.detail, { op: 'resume', step: 0, percent: 10 })
})

t.test('abort sends everyone back to live', async (t) => {
  const s = advance(startRollout(base(), ctxAt(0), { steps: plan3 }, 'r1').state, ctxAt(60_000), 'r1', 0)!.state
  const a = abort(s, ctxAt(70_000, 'bad metrics'))
  t.equal(a.state.canary, 0)
  t.equal(a.state.rollout, null)
  t.equal(a.state.live, 'blue')
  t.same(a.entry, {
    at: ctxAt(70_000).at,
    version: s.version + 1,
    action: 'rollout',
    from: 50,
    to: 0,
    actor: 'tester',
    reason: 'bad metrics',
    detail: { op: 'abort', step: 1, percent: 0 },
  })
  const r = abort(s, ctxAt(70_000), 'auto-revert', { color: 'green', errorRate: 0.5, requests: 40, errors: 20 })
  t.equal(r.entry.action, 'auto-revert')
  t.same(r.entry.detail, { op: 'abort', step: 1, percent: 0, color: 'green', errorRate: 0.5, requests: 40, errors: 20 })
})

t.test('operations without a rollout answer NO_ROLLOUT', async (t) => {
  const s = base()
  for (const [name, fn] of [
    ['pause', () => pause(s, ctxAt(0))],
    ['resume', () => resume(s, ctxAt(0))],
    ['abort', () => abort(s, ctxAt(0))],
    ['promote', () => promote(s, ctxAt(0))],
  ] as const) {
    t.throws(fn, { code: 'NO_ROLLOUT', status: 409 }, name)
  }
})
