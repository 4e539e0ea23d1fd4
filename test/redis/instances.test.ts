import { hostname } from 'node:os'
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { createInstanceRegistry, singleInstance, type InstanceRegistry, type InstanceRegistryOptions } from '../../src/control/instances.js'
import { eventually, freePort, rawClient, requireRedis, startRedis, testPrefix } from './helpers.js'

if (requireRedis(t)) {
  const redis = await startRedis(t)
  const clock = (): number => Date.parse('2025-01-01T00:00:00Z')

  /** A registry whose applied version the test sets. */
  function instance(
    tt: Test,
    prefix: string,
    id: string,
    over: Partial<InstanceRegistryOptions> = {},
  ): { registry: InstanceRegistry; apply: (v: number) => void } {
    let version = 1
    const registry = createInstanceRegistry({
      redis: { url: redis.url },
      prefix,
      id,
      appliedVersion: () => version,
      clock,
      heartbeatMs: 100,
      ttlMs: 400,
      ...over,
    })
    tt.teardown(() => registry.stop())
    return {
      registry,
      apply(v) {
        version = v
        registry.touch()
      },
    }
  }

  t.test('two instances are listed with their applied versions', async (t) => {
    const prefix = testPrefix()
    const a = instance(t, prefix, 'a', { host: 'host-a', pid: 11 })
    const b = instance(t, prefix, 'b')
    await a.registry.start()
    await b.registry.start()
    const list = await a.registry.list()
    t.same(list, [
      { id: 'a', appliedVersion: 1, lastSeen: '2025-01-01T00:00:00.000Z', host: 'host-a', pid: 11 },
      { id: 'b', appliedVersion: 1, lastSeen: '2025-01-01T00:00:00.000Z', host: hostname(), pid: process.pid },
    ])
  })

  t.test('convergence: true when both applied, false after the bound when one lags', async (t) => {
    const prefix = testPrefix()
    const a = instance(t, prefix, 'a', { heartbeatMs: 60_000, ttlMs: 120_000 })
    const b = instance(t, prefix, 'b', { heartbeatMs: 60_000, ttlMs: 120_000 })
    await a.registry.start()
    await b.registry.start()

    // Both apply 2; only touch() makes it visible (the heartbeat is a minute away).
    const waiting = a.registry.wait(2, 5000)
    a.apply(2)
    b.apply(2)
    const started = performance.now()
    t.equal(await waiting, true, 'converged')
    t.comment(`convergence seen after ${(performance.now() - started).toFixed(1)} ms`)

    a.apply(3)
    const before = performance.now()
    t.equal(await a.registry.wait(3, 300), false, 'b never applied 3')
    const ms = performance.now() - before
    t.ok(ms >= 290, `waited the bound (${ms.toFixed(0)} ms)`)
    t.ok(ms < 3000, 'and no longer than that (generous)')
    t.equal(await a.registry.wait(2, 300), true, 'everyone is at 2 or more')
  })

  t.test('an instance that stops leaves the list; one that dies disappears after its TTL', async (t) => {
    const prefix = testPrefix()
    const a = instance(t, prefix, 'a')
    const b = instance(t, prefix, 'b')
    await a.registry.start()
    await b.registry.start()
    // c "crashed" after its last heartbeat: its entry is there, nobody renews it.
    const raw = rawClient(t, redis.url)
    await raw.set(`${prefix}:instance:c`, JSON.stringify({ id: 'c', appliedVersion: 1, lastSeen: 'x', host: 'h', pid: 1 }), 'PX', 1500)
    await raw.sadd(`${prefix}:instances`, 'c')
    t.same(
      (await a.registry.list()).map((i) => i.id),
      ['a', 'b', 'c'],
    )

    await b.registry.stop()
    t.same(
      (await a.registry.list()).map((i) => i.id),
      ['a', 'c'],
      'b left at once; c is still listed within its TTL',
    )
    await eventually(async () => (await a.registry.list()).every((i) => i.id !== 'c'), 10_000, 'c expires')
    t.equal(await raw.sismember(`${prefix}:instances`, 'c'), 0, 'the set is pruned too')
    // A lagging dead instance does not block convergence.
    a.apply(5)
    t.equal(await a.registry.wait(5, 2000), true)
  })

  t.test('a live instance keeps itself listed past its TTL by heartbeats', async (t) => {
    const prefix = testPrefix()
    const a = instance(t, prefix, 'a', { heartbeatMs: 50, ttlMs: 200 })
    await a.registry.start()
    const raw = rawClient(t, redis.url)
    // Several TTLs pass, measured by Redis itself (a new key expiring).
    await raw.set(`${prefix}:probe`, '1', 'PX', 800)
    await eventually(async () => (await raw.exists(`${prefix}:probe`)) === 0, 5000, 'probe expires')
    t.same(
      (await a.registry.list()).map((i) => i.id),
      ['a'],
    )
  })

  t.test('Redis down: list refuses with STORE_UNAVAILABLE, wait answers false', async (t) => {
    const port = await freePort()
    const registry = createInstanceRegistry({
      redis: { url: `redis://127.0.0.1:${port}`, reconnectMaxDelayMs: 200 },
      prefix: testPrefix(),
      id: 'lonely',
      appliedVersion: () => 1,
    })
    t.teardown(() => registry.stop())
    await registry.start()
    await t.rejects(registry.list(), { code: 'STORE_UNAVAILABLE' })
    t.equal(await registry.wait(1, 100), false)
  })

  t.test('ids are validated, ttl must exceed the heartbeat', async (t) => {
    const base = { redis: { url: redis.url }, prefix: 'p', appliedVersion: () => 1 }
    t.throws(() => createInstanceRegistry({ ...base, id: 'has space' }), { code: 'CONFIG_INVALID' })
    t.throws(() => createInstanceRegistry({ ...base, id: 'ok', heartbeatMs: 1000, ttlMs: 1000 }), { code: 'CONFIG_INVALID' })
  })
}

t.test('singleInstance: the list is this process and wait is true', async (t) => {
  let v = 3
  const one = singleInstance(
    'solo',
    () => v,
    () => Date.parse('2025-01-01T00:00:00Z'),
    'h',
    7,
  )
  await one.start()
  t.same(await one.list(), [{ id: 'solo', appliedVersion: 3, lastSeen: '2025-01-01T00:00:00.000Z', host: 'h', pid: 7 }])
  v = 4
  t.equal((await one.list())[0].appliedVersion, 4)
  t.equal(await one.wait(4), true)
  await one.stop()
})
