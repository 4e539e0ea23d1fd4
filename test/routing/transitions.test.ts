import t from 'tap'
import { SwitchyardError } from '../../src/errors.js'
import {
  flip,
  initialState,
  putCohort,
  removeCohort,
  rollback,
  setCanary,
  type ChangeContext,
  type State,
} from '../../src/routing/index.js'

const ctx = (n: number, reason: string | null = null): ChangeContext => ({ at: `2026-01-01T00:00:0${n}.000Z`, actor: 'test', reason })
const s0: State = initialState('blue', ctx(0).at)

t.test('initial state', async (t) => {
  t.same(s0, {
    version: 1,
    live: 'blue',
    previous: null,
    canary: 0,
    cohorts: [],
    rollout: null,
    updatedAt: ctx(0).at,
    lastFlipAt: null,
    lastFlipAction: null,
    mirror: 0,
  })
})

t.test('flip makes idle live, ends the canary, records history', async (t) => {
  const withCanary = setCanary(s0, ctx(1), 20)!.state
  const c = flip(withCanary, ctx(2, 'release 42'))!
  t.same([c.state.live, c.state.previous, c.state.canary, c.state.version], ['green', 'blue', 0, 3])
  t.equal(c.state.lastFlipAt, ctx(2).at)
  t.same(c.entry, { at: ctx(2).at, version: 3, action: 'flip', from: 'blue', to: 'green', actor: 'test', reason: 'release 42' })
  t.equal(withCanary.canary, 20, 'the old state is untouched')
  const explicit = flip(s0, ctx(1), 'green')!
  t.equal(explicit.state.live, 'green')
  t.equal(flip(s0, ctx(1), 'blue'), null, 'flip to the live color with nothing to end is a no-op')
  const ending = flip(withCanary, ctx(2), 'blue')!
  t.same([ending.state.live, ending.state.canary, ending.state.previous], ['blue', 0, null], 'flip to live ends the canary only')
  const custom = flip(s0, ctx(1), undefined, 'auto-revert')!
  t.equal(custom.entry.action, 'auto-revert')
})

t.test('rollback returns to the previous color', async (t) => {
  t.throws(() => rollback(s0, ctx(1)), new SwitchyardError('NO_PREVIOUS'))
  try {
    rollback(s0, ctx(1))
  } catch (e) {
    t.equal((e as SwitchyardError).code, 'NO_PREVIOUS')
    t.equal((e as SwitchyardError).status, 409)
  }
  const flipped = flip(s0, ctx(1))!.state
  const back = rollback(flipped, ctx(2), 'auto-revert', { errorRate: 0.5 })
  t.same([back.state.live, back.state.previous, back.state.version], ['blue', 'green', 3])
  t.same(back.entry.detail, { errorRate: 0.5 })
  t.equal(back.state.lastFlipAction, 'auto-revert', 'the state remembers the router reverted')
  t.equal(flipped.lastFlipAction, 'flip')
  t.equal(back.entry.action, 'auto-revert')
  const again = rollback(back.state, ctx(3))
  t.equal(again.state.live, 'green', 'rolling back twice flips back')
})

t.test('canary percent, rounded to two decimals', async (t) => {
  const c = setCanary(s0, ctx(1), 12.3456)!
  t.equal(c.state.canary, 12.35)
  t.same([c.entry.from, c.entry.to, c.entry.action], [0, 12.35, 'canary'])
  t.equal(setCanary(c.state, ctx(2), 12.35), null, 'same percent → no-op')
  const auto = setCanary(c.state, ctx(2), 0, 'auto-revert', { errorRate: 1 })!
  t.same([auto.entry.action, auto.entry.detail], ['auto-revert', { errorRate: 1 }])
})

t.test('cohorts are added, replaced in place, removed', async (t) => {
  const a = putCohort(s0, ctx(1), { name: 'a', color: 'green', match: {} })
  const b = putCohort(a.state, ctx(2), { name: 'b', color: 'idle', match: { percent: 5 } })
  const a2 = putCohort(b.state, ctx(3), { name: 'a', color: 'live', match: {} })
  t.same(
    a2.state.cohorts.map((c) => [c.name, c.color]),
    [
      ['a', 'live'],
      ['b', 'idle'],
    ],
  )
  t.same([a.entry.to, a.entry.from, a.entry.detail], ['a', null, { op: 'add', color: 'green' }])
  t.same(a2.entry.detail, { op: 'replace', color: 'live' })
  const gone = removeCohort(a2.state, ctx(4), 'a')
  t.same(
    gone.state.cohorts.map((c) => c.name),
    ['b'],
  )
  t.same([gone.entry.from, gone.entry.to], ['a', null])
  t.throws(() => removeCohort(gone.state, ctx(5), 'zzz'), { code: 'NOT_FOUND' })
  t.equal(b.state.cohorts.length, 2, 'older states are never mutated')
})
