import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { adminErrorHandler } from '../../src/control/admin/errors.js'
import { instancesRoutes } from '../../src/control/admin/routes/instances.js'
import type { InstanceInfo } from '../../src/control/instances.js'
import { SwitchyardError } from '../../src/errors.js'

/** The plugin on a bare app with the admin error handler (no Redis needed). */
async function app(t: Test, list: () => Promise<InstanceInfo[]>) {
  const a = Fastify()
  a.setErrorHandler(adminErrorHandler)
  await a.register(instancesRoutes({ registry: { list } }))
  t.teardown(() => a.close())
  return a
}
t.test('GET /v1/instances lists the live instances', async (t) => {
  const instances: InstanceInfo[] = [
    { id: 'a', appliedVersion: 7, lastSeen: '2025-01-01T00:00:00.000Z', host: 'h1', pid: 1 },
    { id: 'b', appliedVersion: 6, lastSeen: '2025-01-01T00:00:01.000Z', host: 'h2', pid: 2 },
  ]
  const a = await app(t, async () => instances)
  const res = await a.inject({ method: 'GET', url: '/v1/instances' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { instances })
})

t.test('Redis down: 503 STORE_UNAVAILABLE in the contract shape', async (t) => {
  const a = await app(t, async () => {
    throw new SwitchyardError('STORE_UNAVAILABLE', 'redis is unreachable')
  })
  const res = await a.inject({ method: 'GET', url: '/v1/instances' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { error: { code: 'STORE_UNAVAILABLE', message: 'redis is unreachable' } })
})
