import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { isSwitchyardError } from '../../src/errors.js'
import { createRedisStore, type RedisStoreOptions } from '../../src/control/store/redis-store.js'
import type { StateStore } from '../../src/control/store/types.js'
import type { State } from '../../src/routing/index.js'
import { entryV, eventually, rawClient, requireRedis, startRedis, stateV, testPrefix, type PrivateRedis } from './helpers.js'

if (requireRedis(t)) {
  const redis: PrivateRedis = await startRedis(t)

  function store(tt: Test, prefix: string, over: Partial<RedisStoreOptions> = {}): StateStore {
    const s = createRedisStore({ url: redis.url, prefix, instanceId: 'test', ...over })
    tt.teardown(() => s.close())
    return s
  }

  // The cases every store shares (compare-and-set, initialise once, history
  // order and cap, corrupt data refused, concurrent commits on one handle,
  // per-app isolation) are in redis-store.contract.test.ts; these are Redis' own.

  t.test('two instances commit the same version concurrently: exactly one wins', async (t) => {
    const prefix = testPrefix()
    const a = store(t, prefix)
    const b = store(t, prefix)
    await a.initialize(stateV(1))
    await b.load()
    for (let round = 0; round < 20; round++) {
      const base = 1 + round
      const results = await Promise.allSettled([
        a.commit(stateV(base + 1, { canary: 10 }), entryV(base + 1, { actor: 'a' })),
        b.commit(stateV(base + 1, { canary: 20 }), entryV(base + 1, { actor: 'b' })),
      ])
      const won = results.filter((r) => r.status === 'fulfilled')
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      t.equal(won.length, 1, `round ${round}: one winner`)
      t.equal(lost.length, 1, `round ${round}: one loser`)
      t.ok(isSwitchyardError(lost[0].reason) && lost[0].reason.code === 'VERSION_MISMATCH', 'the loser gets VERSION_MISMATCH')
      const history = await a.history(1)
      const stored = (await a.load()) as State
      t.equal(stored.version, base + 1)
      // What is stored and what the history says belong to the same winner.
      t.equal(history[0].actor, stored.canary === 10 ? 'a' : 'b', 'history entry matches the stored state')
    }
  })

  t.test('a commit reaches another instance quickly (p50/p99 over 60 commits)', async (t) => {
    const prefix = testPrefix()
    const writer = store(t, prefix)
    const reader = store(t, prefix)
    await writer.initialize(stateV(1))
    await reader.load()
    const received = new Map<number, number>()
    const waiters = new Map<number, () => void>()
    reader.onState((s) => {
      received.set(s.version, performance.now())
      waiters.get(s.version)?.()
    })
    const delays: number[] = []
    for (let v = 2; v <= 61; v++) {
      const arrived = new Promise<void>((resolve) => waiters.set(v, resolve))
      const started = performance.now()
      await writer.commit(stateV(v, { canary: v % 100 }), entryV(v))
      await arrived
      delays.push((received.get(v) as number) - started)
    }
    t.same(
      [...received.keys()],
      Array.from({ length: 60 }, (_, i) => i + 2),
      'every version, in order, once',
    )
    delays.sort((x, y) => x - y)
    const p = (q: number): string => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))].toFixed(2)
    t.comment(
      `propagation over ${delays.length} commits (commit start → other instance's listener): p50 ${p(0.5)} ms, p90 ${p(0.9)} ms, p99 ${p(0.99)} ms, max ${p(1)} ms`,
    )
    t.ok(
      delays.every((d) => d < 2000),
      'each arrived (generous bound; the goal is ~ms)',
    )
  })

  t.test('the writer does not hear its own commit as news', async (t) => {
    const prefix = testPrefix()
    const a = store(t, prefix)
    const b = store(t, prefix)
    await a.initialize(stateV(1))
    await b.load()
    const heardByA: number[] = []
    a.onState((s) => heardByA.push(s.version))
    const heardByB = new Promise<number>((resolve) => b.onState((s) => resolve(s.version)))
    await a.commit(stateV(2), entryV(2))
    t.equal(await heardByB, 2)
    // b heard it, so the message has been published; a got its own copy too.
    await b.commit(stateV(3), entryV(3))
    await eventually(() => heardByA.includes(3), 5000, 'a hears b')
    t.same(heardByA, [3])
  })

  t.test('a lost message is recovered by the periodic resync', async (t) => {
    const prefix = testPrefix()
    const a = store(t, prefix, { resyncIntervalMs: 100 })
    await a.initialize(stateV(1))
    const got = new Promise<State>((resolve) => a.onState(resolve))
    // Written behind the store's back: no PUBLISH, as if the message was lost.
    await rawClient(t, redis.url).set(`${prefix}:state`, JSON.stringify(stateV(7, { live: 'green' })))
    const s = await got
    t.equal(s.version, 7)
    t.equal(s.live, 'green')
  })

  t.test('a stale If-Match loser still learns the newer state', async (t) => {
    const prefix = testPrefix()
    const a = store(t, prefix)
    const b = store(t, prefix, { resyncIntervalMs: 60_000 })
    await a.initialize(stateV(1))
    await b.load()
    const raw = rawClient(t, redis.url)
    // Stored without announcement, so only the failed commit can tell b.
    await raw.set(`${prefix}:state`, JSON.stringify(stateV(4)))
    const heard: number[] = []
    b.onState((s) => heard.push(s.version))
    await t.rejects(b.commit(stateV(2), entryV(2)), { code: 'VERSION_MISMATCH', message: /stored version is 4/ })
    t.same(heard, [4])
  })

  t.test('commands after close are refused', async (t) => {
    const a = createRedisStore({ url: redis.url, prefix: testPrefix(), instanceId: 'x' })
    await a.load()
    await a.close()
    t.notOk(a.reachable())
    await t.rejects(a.load(), { code: 'STORE_UNAVAILABLE' })
  })
}
