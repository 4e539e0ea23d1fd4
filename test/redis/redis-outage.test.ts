import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { createRedisStore, type RedisStoreOptions } from '../../src/control/store/redis-store.js'
import type { StateStore } from '../../src/control/store/types.js'
import type { State } from '../../src/routing/index.js'
import { entryV, eventually, freePort, rawClient, requireRedis, startRedis, stateV, testPrefix } from './helpers.js'

if (requireRedis(t)) {
  /** A store that keeps, like the runtime, the newest state it was given. */
  function instance(
    tt: Test,
    opts: Omit<RedisStoreOptions, 'instanceId'>,
  ): { store: StateStore; local: () => State | null; set: (s: State) => void } {
    let local: State | null = null
    const store = createRedisStore({
      instanceId: 'test',
      reconnectMaxDelayMs: 200,
      ...opts,
      getLocalState: () => local,
    })
    store.onState((s) => {
      if (local === null || s.version > local.version) local = s
    })
    tt.teardown(() => store.close())
    return {
      store,
      local: () => local,
      set: (s) => {
        local = s
      },
    }
  }

  t.test('load with Redis down fails fast with STORE_UNAVAILABLE', async (t) => {
    const port = await freePort()
    const { store } = instance(t, { url: `redis://127.0.0.1:${port}`, prefix: testPrefix() })
    const started = performance.now()
    await t.rejects(store.load(), { code: 'STORE_UNAVAILABLE' })
    const ms = performance.now() - started
    t.comment(`load with Redis down rejected after ${ms.toFixed(0)} ms`)
    t.ok(ms < 3000, 'bounded')
    t.notOk(store.reachable())
  })

  t.test('Redis killed: writes fail fast; restarted empty: the state is written back', async (t) => {
    const redis = await startRedis(t)
    const prefix = testPrefix()
    const a = instance(t, { url: redis.url, prefix, resyncIntervalMs: 200 })
    const b = instance(t, { url: redis.url, prefix, resyncIntervalMs: 200 })
    a.set(await a.store.initialize(stateV(1)))
    b.set((await b.store.load()) as State)
    const flipped = stateV(2, { live: 'green', previous: 'blue' })
    await a.store.commit(flipped, entryV(2, { action: 'flip' }))
    a.set(flipped)
    await eventually(() => b.local()?.version === 2, 5000, 'b applies version 2')

    await redis.kill()
    await eventually(() => !a.store.reachable(), 5000, 'a notices the outage')
    for (const s of [a, b]) {
      const started = performance.now()
      await t.rejects(s.store.commit(stateV(3), entryV(3)), { code: 'STORE_UNAVAILABLE' })
      const ms = performance.now() - started
      t.comment(`commit with Redis down rejected after ${ms.toFixed(1)} ms`)
      t.ok(ms < 3000, 'the write failed within the bound')
    }
    await t.rejects(a.store.history(10), { code: 'STORE_UNAVAILABLE' })
    t.equal(a.local()?.version, 2, 'the instance keeps its last state')

    await redis.start()
    await eventually(() => a.store.reachable() && b.store.reachable(), 10_000, 'both reconnect')
    const raw = rawClient(t, redis.url)
    await eventually(async () => (await raw.get(`${prefix}:state`)) !== null, 10_000, 'state written back')
    const stored = JSON.parse((await raw.get(`${prefix}:state`)) as string) as State
    t.equal(stored.version, 2, 'the version survived')
    t.equal(stored.live, 'green', 'the live color survived, not initial')

    await a.store.commit(stateV(3, { live: 'green', canary: 5 }), entryV(3))
    await eventually(() => b.local()?.version === 3, 5000, 'b applies version 3 after the outage')
    t.same(
      (await b.store.history(10)).map((e) => e.version),
      [3],
      'history before the restart is lost with Redis data',
    )
  })

  t.test('a Redis that hangs: writes time out quickly and reachable() turns false', async (t) => {
    const redis = await startRedis(t)
    const a = instance(t, { url: redis.url, prefix: testPrefix(), resyncIntervalMs: 60_000, commandTimeoutMs: 300 })
    a.set(await a.store.initialize(stateV(1)))
    redis.pause()
    t.teardown(() => redis.resume())
    const started = performance.now()
    await t.rejects(a.store.commit(stateV(2), entryV(2)), { code: 'STORE_UNAVAILABLE', message: /timed out/ })
    const ms = performance.now() - started
    t.comment(`commit against a hung Redis rejected after ${ms.toFixed(0)} ms`)
    t.ok(ms < 3000, 'bounded by the command timeout')
    t.notOk(a.store.reachable(), 'not reachable while it does not answer')
    redis.resume()
    await eventually(
      async () => {
        try {
          await a.store.load()
        } catch {
          return false
        }
        return a.store.reachable()
      },
      10_000,
      'answers again',
    )
    t.ok(a.store.reachable())
  })

  t.test('a commit right after an empty restart writes back first, then succeeds', async (t) => {
    const redis = await startRedis(t)
    const prefix = testPrefix()
    // No timer and no time for the reconnect handler: the commit meets the empty Redis first.
    const a = instance(t, { url: redis.url, prefix, resyncIntervalMs: 600_000 })
    a.set(await a.store.initialize(stateV(5, { live: 'green' })))
    const raw = rawClient(t, redis.url)
    await raw.del(`${prefix}:state`)
    await a.store.commit(stateV(6, { live: 'green', canary: 10 }), entryV(6))
    const stored = JSON.parse((await raw.get(`${prefix}:state`)) as string) as State
    t.equal(stored.version, 6)
    t.equal(stored.canary, 10)
  })

  t.test('Redis holding an older version is brought forward', async (t) => {
    const redis = await startRedis(t)
    const prefix = testPrefix()
    const a = instance(t, { url: redis.url, prefix, resyncIntervalMs: 100 })
    a.set(await a.store.initialize(stateV(9, { live: 'green' })))
    const raw = rawClient(t, redis.url)
    // As after a failover to a replica that missed the last writes.
    await raw.set(`${prefix}:state`, JSON.stringify(stateV(7)))
    await eventually(async () => JSON.parse((await raw.get(`${prefix}:state`)) as string).version === 9, 5000, 'version 9 restored')
    t.equal(a.local()?.version, 9, 'the instance never went back')
  })

  t.test('an instance that is behind takes the newer written-back state', async (t) => {
    const redis = await startRedis(t)
    const prefix = testPrefix()
    const ahead = instance(t, { url: redis.url, prefix, resyncIntervalMs: 100 })
    const behind = instance(t, { url: redis.url, prefix, resyncIntervalMs: 100 })
    ahead.set(await ahead.store.initialize(stateV(1)))
    behind.set((await behind.store.load()) as State)
    // ahead holds 3, behind holds 1, and Redis lost everything.
    ahead.set(stateV(3, { live: 'green' }))
    await rawClient(t, redis.url).del(`${prefix}:state`)
    await eventually(() => behind.local()?.version === 3, 5000, 'behind catches up to 3')
    t.equal(behind.local()?.live, 'green')
  })
}
