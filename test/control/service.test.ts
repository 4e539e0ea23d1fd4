import t, { type Test } from 'tap'
import { join } from 'node:path'
import { Runtime } from '../../src/control/runtime.js'
import { StateService, loadOrInit } from '../../src/control/service.js'
import { createFileStore } from '../../src/control/store/index.js'
import type { StateStore } from '../../src/control/store/types.js'
import type { ChangeEvent } from '../../src/control/types.js'
import { SwitchyardError } from '../../src/errors.js'
import { setCanary, type RoutingOptions, type State } from '../../src/routing/index.js'
import { FakeSmoke, fakeClock, tempDir } from './helpers.js'

const OPTIONS: RoutingOptions = { stickiness: { header: 'x-user-id', cookie: null }, overrides: { enabled: false, secret: null } }

async function setup(t: Test, over: { store?: (s: StateStore) => StateStore; convergence?: (v: number) => Promise<boolean> } = {}) {
  const dir = await tempDir(t)
  const clock = fakeClock()
  const fileStore = createFileStore({ path: join(dir, 'state.json') })
  const store = over.store ? over.store(fileStore) : fileStore
  const initial = await loadOrInit(store, 'blue', clock.now)
  const runtime = new Runtime(initial, OPTIONS)
  const smoke = new FakeSmoke()
  const convergence = over.convergence ? { wait: over.convergence } : undefined
  const service = new StateService({ store, runtime, clock: clock.now, smoke, convergence })
  const events: ChangeEvent[] = []
  service.on('change', (e: ChangeEvent) => events.push(e))
  return { service, store, fileStore, runtime, smoke, clock, events }
}

const actor = { actor: 'test' }

t.test('loadOrInit seeds an empty store once', async (t) => {
  const dir = await tempDir(t)
  const store = createFileStore({ path: join(dir, 's.json') })
  const clock = fakeClock()
  const s = await loadOrInit(store, 'green', clock.now)
  t.match(s, { version: 1, live: 'green', previous: null, canary: 0, updatedAt: '2025-01-01T00:00:00.000Z' })
  clock.advance(1000)
  const again = await loadOrInit(store, 'blue', clock.now)
  t.same(again, s, 'the stored state wins over initial.live')
})

t.test('flip, flip to live, rollback', async (t) => {
  const { service, runtime, smoke, events, store } = await setup(t)
  const r = await service.flip({ actor: 'ana', reason: 'release 1.4' })
  t.equal(r.changed, true)
  t.equal(r.converged, true)
  t.match(r.state, { version: 2, live: 'green', previous: 'blue', canary: 0 })
  t.match(r.entry, { version: 2, action: 'flip', from: 'blue', to: 'green', actor: 'ana', reason: 'release 1.4' })
  t.same(smoke.calls, ['green'], 'smoke ran on the target')
  t.equal(runtime.state, r.state, 'runtime applied the new state')
  t.equal(runtime.table.live, 'green')
  t.equal(service.state.version, 2)
  t.equal(events.length, 1)
  t.equal(events[0].previous.version, 1)
  t.equal(events[0].entry, r.entry)

  const same = await service.flip({ ...actor, to: 'green' })
  t.same(same, { changed: false, state: r.state, entry: null, converged: null })
  t.equal(smoke.calls.length, 1, 'no smoke for the color already live')

  const back = await service.rollback({ ...actor, reason: 'bad' })
  t.match(back.state, { version: 3, live: 'blue', previous: 'green' })
  t.match(back.entry, { action: 'rollback', from: 'green', to: 'blue' })
  t.same(
    (await service.history(10)).map((e) => e.action),
    ['rollback', 'flip'],
  )
  t.same(
    (await service.history(10)).map((e) => e.app),
    ['default', 'default'],
    'entries carry the app',
  )
  t.equal((await store.load())?.version, 3)
})

t.test('rollback without a previous color: NO_PREVIOUS, nothing changes', async (t) => {
  const { service, events, store } = await setup(t)
  await t.rejects(service.rollback(actor), { code: 'NO_PREVIOUS', status: 409 })
  t.equal(service.state.version, 1)
  t.equal(events.length, 0)
  t.same(await store.history(10), [])
})

t.test('flip to the live color ends a canary', async (t) => {
  const { service, smoke } = await setup(t)
  await service.setCanary(10, actor)
  const r = await service.flip({ ...actor, to: 'blue' })
  t.match(r.state, { live: 'blue', canary: 0, version: 3 })
  t.same(smoke.calls, ['green'], 'only the canary was gated')
})

t.test('canary: set, unchanged, gate only when going up from 0', async (t) => {
  const { service, smoke } = await setup(t)
  const a = await service.setCanary(12.5, actor)
  t.match(a.state, { canary: 12.5, version: 2 })
  t.match(a.entry, { action: 'canary', from: 0, to: 12.5 })
  t.same(smoke.calls, ['green'])
  const b = await service.setCanary(50, actor)
  t.equal(b.state.canary, 50)
  t.same(smoke.calls, ['green'], 'no gate from 12.5 to 50')
  const same = await service.setCanary(50, actor)
  t.equal(same.changed, false)
  t.equal(same.converged, null)
  await service.setCanary(0, actor)
  t.same(smoke.calls, ['green'], 'no gate going down')
  await t.rejects(service.setCanary(101, actor), { code: 'BAD_REQUEST' })
  await t.rejects(service.setCanary(Number.NaN, actor), { code: 'BAD_REQUEST' })
  t.equal(service.state.version, 4)
})

t.test('smoke failure refuses the flip and the canary; force bypasses', async (t) => {
  const { service, smoke, events, store } = await setup(t)
  smoke.ok = false
  const err = await service.flip(actor).then(
    () => null,
    (e: SwitchyardError) => e,
  )
  t.equal(err?.code, 'SMOKE_FAILED')
  t.equal(err?.status, 409)
  t.match(err?.message, /green/)
  t.match(err?.details, { color: 'green', checks: [{ path: '/health', ok: false, error: 'status 500' }] })
  await t.rejects(service.setCanary(5, actor), { code: 'SMOKE_FAILED' })
  t.equal(service.state.version, 1, 'nothing changed')
  t.equal(events.length, 0)
  t.same(await store.history(5), [])
  t.same(smoke.calls, ['green', 'green'])

  const forced = await service.setCanary(5, { ...actor, force: true })
  t.equal(forced.state.canary, 5)
  const flipped = await service.flip({ ...actor, force: true })
  t.equal(flipped.state.live, 'green')
  t.equal(smoke.calls.length, 2, 'force skipped the checks')
})

t.test('If-Match: stale version is 412 and changes nothing', async (t) => {
  const { service, events, store, smoke } = await setup(t)
  await service.setCanary(5, actor)
  const err = await service.setCanary(10, { ...actor, ifMatch: 1 }).then(
    () => null,
    (e: SwitchyardError) => e,
  )
  t.equal(err?.code, 'VERSION_MISMATCH')
  t.equal(err?.status, 412)
  t.match(err?.details, { version: 2 })
  await t.rejects(service.flip({ ...actor, ifMatch: 7 }), { code: 'VERSION_MISMATCH' })
  await t.rejects(service.putCohort({ name: 'a', color: 'green', match: {} }, { ...actor, ifMatch: 1 }), { code: 'VERSION_MISMATCH' })
  t.equal(smoke.calls.length, 1, 'stale flip did not even run smoke checks')
  t.equal(service.state.version, 2)
  t.equal(events.length, 1)
  t.equal((await store.history(10)).length, 1)
  const ok = await service.setCanary(10, { ...actor, ifMatch: 2 })
  t.equal(ok.state.version, 3)
})

t.test('cohorts: add, replace in place, remove, NOT_FOUND', async (t) => {
  const { service } = await setup(t)
  await service.putCohort({ name: 'beta', color: 'green', match: { users: ['u1'] } }, actor)
  await service.putCohort({ name: 'staff', color: 'idle', match: { headers: { 'x-staff': '1' } } }, actor)
  const r = await service.putCohort({ name: 'beta', color: 'live', match: { percent: 5 } }, actor)
  t.same(
    r.state.cohorts.map((c) => `${c.name}:${c.color}`),
    ['beta:live', 'staff:idle'],
  )
  t.match(r.entry, { action: 'cohort', from: 'beta', to: 'beta', detail: { op: 'replace' } })
  const rm = await service.removeCohort('beta', actor)
  t.same(
    rm.state.cohorts.map((c) => c.name),
    ['staff'],
  )
  await t.rejects(service.removeCohort('beta', actor), { code: 'NOT_FOUND', status: 404 })
  t.equal(service.state.version, 5)
})

t.test('ROLLOUT_ACTIVE while a rollout owns the canary', async (t) => {
  const { service, smoke } = await setup(t)
  const now = service.now()
  const r = await service.update(
    (s) => {
      const c = setCanary(s, { at: now, actor: 'rollout', reason: null }, 10, 'rollout')
      return (
        c && {
          ...c,
          state: {
            ...c.state,
            rollout: {
              id: 'r1',
              color: 'green',
              steps: [{ percent: 10, holdSeconds: 60 }],
              autoPromote: false,
              stepIndex: 0,
              status: 'running',
              stepStartedAt: now,
              heldMs: 0,
              startedAt: now,
            },
          },
        }
      )
    },
    { actor: 'rollout' },
  )
  t.equal(r.state.rollout?.id, 'r1')
  await t.rejects(service.setCanary(20, { ...actor, force: true }), { code: 'ROLLOUT_ACTIVE', status: 409 })
  await t.rejects(service.setCanary(0, actor), { code: 'ROLLOUT_ACTIVE' })
  t.equal(service.state.canary, 10)
  t.equal(smoke.calls.length, 0)
  // A flip ends the rollout.
  const f = await service.flip(actor)
  t.equal(f.state.rollout, null)
})

t.test('conflict with another writer: reload, re-run on the fresh state', async (t) => {
  const { service, store, runtime, events } = await setup(t)
  await service.setCanary(10, actor)
  // Another instance reverts the canary, straight in the shared store.
  const other = setCanary(service.state, { at: 'x', actor: 'other-instance', reason: 'breach' }, 0, 'auto-revert')!
  await store.commit(other.state, other.entry)
  t.equal(runtime.state.version, 2, 'this instance has not heard of it yet')

  // Our own auto-revert: the transition sees the revert done and does nothing.
  let runs = 0
  const r = await service.update(
    (s) => {
      runs++
      return s.canary > 0 ? setCanary(s, { at: 'y', actor: 'auto-revert', reason: 'breach' }, 0, 'auto-revert') : null
    },
    { actor: 'auto-revert' },
  )
  t.equal(runs, 2)
  t.equal(r.changed, false)
  t.equal(r.state.version, 3)
  t.equal(runtime.state.version, 3, 'the fresh state was applied')
  t.same(
    events.map((e) => e.entry?.actor ?? null),
    ['test', null],
    'the remote change was announced without an entry',
  )
  t.same((await store.history(10)).filter((e) => e.action === 'auto-revert').length, 1, 'reverted once')

  // A write that still makes sense is re-applied on top of the fresh state.
  const beta = await store.load()
  await store.commit(
    { ...beta!, version: 4, cohorts: [{ name: 'x', color: 'green', match: {} }] },
    { at: 'z', version: 4, action: 'cohort', from: null, to: 'x', actor: 'other', reason: null },
  )
  const c = await service.setCanary(3, { ...actor, force: true })
  t.match(c.state, { version: 5, canary: 3, cohorts: [{ name: 'x' }] })

  // With If-Match, a conflict is a 412 (but the state is refreshed).
  const s = await store.load()
  await store.commit(
    { ...s!, version: 6, canary: 4 },
    { at: 'z', version: 6, action: 'canary', from: 3, to: 4, actor: 'other', reason: null },
  )
  await t.rejects(service.setCanary(7, { ...actor, ifMatch: 5 }), { code: 'VERSION_MISMATCH' })
  t.equal(service.state.version, 6)
  t.equal(service.state.canary, 4)
})

t.test('conflict retries are bounded', async (t) => {
  let commits = 0
  const { service } = await setup(t, {
    store: (s) => ({
      ...s,
      async commit() {
        commits++
        throw new SwitchyardError('VERSION_MISMATCH')
      },
    }),
  })
  await t.rejects(
    service.update((s) => setCanary(s, { at: 'a', actor: 'x', reason: null }, 5), { actor: 'x', retries: 2 }),
    {
      code: 'VERSION_MISMATCH',
    },
  )
  t.equal(commits, 3)
  t.equal(service.state.version, 1)
})

t.test('store unavailable passes through and changes nothing', async (t) => {
  const { service, events, runtime } = await setup(t, {
    store: (s) => ({
      ...s,
      reachable: () => false,
      async commit() {
        throw new SwitchyardError('STORE_UNAVAILABLE', 'redis is down')
      },
    }),
  })
  await t.rejects(service.setCanary(5, { ...actor, force: true }), { code: 'STORE_UNAVAILABLE', status: 503 })
  t.equal(runtime.state.version, 1)
  t.equal(runtime.state.canary, 0)
  t.equal(events.length, 0)
  // The lock was released: the next write runs (and fails the same way).
  await t.rejects(service.flip({ ...actor, force: true }), { code: 'STORE_UNAVAILABLE' })
})

t.test('writes are serialized: concurrent writes get consecutive versions', async (t) => {
  const { service, store } = await setup(t)
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => service.putCohort({ name: `c${i}`, color: 'green', match: {} }, actor)),
  )
  t.same(
    results.map((r) => r.state.version).sort((a, b) => a - b),
    [2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  )
  t.equal(service.state.cohorts.length, 10)
  t.equal((await store.history(100)).length, 10)
})

t.test('convergence decides `converged`', async (t) => {
  const waited: number[] = []
  const { service } = await setup(t, {
    convergence: async (v) => {
      waited.push(v)
      return false
    },
  })
  const r = await service.setCanary(5, { ...actor, force: true })
  t.equal(r.converged, false)
  t.same(waited, [2])
  const same = await service.setCanary(5, actor)
  t.equal(same.converged, null)
  t.same(waited, [2], 'no wait when nothing changed')
})

t.test('states from other instances (onState) are applied and announced', async (t) => {
  let listener: ((s: State) => void) | undefined
  const { service, runtime, events } = await setup(t, {
    store: (s) => ({
      ...s,
      onState(l) {
        listener = l
      },
    }),
  })
  t.ok(listener, 'the service subscribed')
  const newer: State = { ...service.state, version: 5, live: 'green', previous: 'blue' }
  listener!(newer)
  t.equal(runtime.state, newer)
  t.equal(events.length, 1)
  t.equal(events[0].entry, null)
  t.equal(events[0].previous.version, 1)
  listener!({ ...newer, version: 4 })
  t.equal(events.length, 1, 'an older state is ignored')
  t.equal(runtime.state.version, 5)
})

t.test('a throwing change listener does not fail the write', async (t) => {
  const { service } = await setup(t)
  service.on('change', () => {
    throw new Error('listener bug')
  })
  const r = await service.setCanary(1, { ...actor, force: true })
  t.equal(r.changed, true)
  t.equal(service.state.canary, 1)
})
