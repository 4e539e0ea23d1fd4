import t, { type Test } from 'tap'
import { createInstanceRegistry, type InstanceRegistry } from '../../src/control/instances.js'
import { Runtime } from '../../src/control/runtime.js'
import { StateService, loadOrInit } from '../../src/control/service.js'
import { createRedisStore } from '../../src/control/store/redis-store.js'
import { setCanary } from '../../src/routing/index.js'
import { eventually, requireRedis, startRedis, testPrefix } from './helpers.js'

/**
 * In-process "instances" wired the way the composition root wires them:
 * store → loadOrInit → Runtime → StateService (convergence = registry),
 * runtime 'change' → registry.touch(). Real processes are the lead's e2e.
 */
if (requireRedis(t)) {
  const redis = await startRedis(t)
  const clock = (): number => Date.parse('2025-01-01T00:00:00Z')
  const options = { stickiness: { header: null, cookie: null }, overrides: { enabled: false, secret: null } }

  async function instance(
    tt: Test,
    prefix: string,
    id: string,
  ): Promise<{ runtime: Runtime; service: StateService; registry: InstanceRegistry }> {
    let runtime: Runtime | undefined
    const store = createRedisStore({ url: redis.url, prefix, instanceId: id, getLocalState: () => runtime?.state ?? null })
    tt.teardown(() => store.close())
    runtime = new Runtime(await loadOrInit(store, 'blue', clock), options)
    const rt = runtime
    const registry = createInstanceRegistry({ redis: { url: redis.url }, prefix, id, appliedVersion: () => rt.state.version })
    tt.teardown(() => registry.stop())
    rt.on('change', () => registry.touch())
    const service = new StateService({ store, runtime: rt, clock, convergence: registry })
    await registry.start()
    return { runtime: rt, service, registry }
  }

  t.test('a write through one instance is applied by the others and reported converged', async (t) => {
    const prefix = testPrefix()
    const a = await instance(t, prefix, 'a')
    const b = await instance(t, prefix, 'b')
    const c = await instance(t, prefix, 'c')
    const r = await a.service.setCanary(10, { actor: 'test' })
    t.equal(r.converged, true)
    t.equal(b.runtime.state.version, r.state.version)
    t.equal(c.runtime.table.canaryBp, 1000, 'c routes by the new table')
    const listed = await a.registry.list()
    t.same(
      listed.map((i) => [i.id, i.appliedVersion]),
      [
        ['a', 2],
        ['b', 2],
        ['c', 2],
      ],
    )
  })

  t.test('same If-Match on two instances: exactly one wins, one VERSION_MISMATCH', async (t) => {
    const prefix = testPrefix()
    const a = await instance(t, prefix, 'a')
    const b = await instance(t, prefix, 'b')
    const results = await Promise.allSettled([
      a.service.setCanary(5, { actor: 'a', ifMatch: 1 }),
      b.service.setCanary(7, { actor: 'b', ifMatch: 1 }),
    ])
    t.equal(results.filter((x) => x.status === 'fulfilled').length, 1)
    const lost = results.find((x): x is PromiseRejectedResult => x.status === 'rejected')
    t.equal(lost?.reason.code, 'VERSION_MISMATCH')
    await eventually(() => a.runtime.state.version === 2 && b.runtime.state.version === 2, 5000, 'both at 2')
    t.equal(a.runtime.state.canary, b.runtime.state.canary, 'both route by the winner')
  })

  t.test('a revert seen by every instance at once happens exactly once', async (t) => {
    const prefix = testPrefix()
    const fleet = [await instance(t, prefix, 'a'), await instance(t, prefix, 'b'), await instance(t, prefix, 'c')]
    await fleet[0].service.setCanary(20, { actor: 'test' })
    await eventually(() => fleet.every((i) => i.runtime.state.canary === 20), 5000, 'all at 20%')
    // Every instance decides to revert on the state it has; the transition
    // is a no-op on a state that is already reverted.
    const results = await Promise.all(
      fleet.map((i) =>
        i.service.update(
          (s) => (s.canary === 0 ? null : setCanary(s, { at: i.service.now(), actor: 'auto-revert', reason: 'errors' }, 0, 'auto-revert')),
          {
            actor: 'auto-revert',
          },
        ),
      ),
    )
    t.equal(results.filter((r) => r.changed).length, 1, 'one instance stored the revert')
    const history = await fleet[1].service.history(10)
    t.same(
      history.map((e) => e.action),
      ['auto-revert', 'canary'],
      'one revert in the history',
    )
    await eventually(() => fleet.every((i) => i.runtime.state.canary === 0 && i.runtime.state.version === 3), 5000, 'all reverted')
    t.pass('every instance routes by the single revert')
  })
}
