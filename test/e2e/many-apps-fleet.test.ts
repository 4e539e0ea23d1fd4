import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from '../helpers/request.js'
import { eventually, rawClient, requireRedis, startRedis } from '../redis/helpers.js'
import { CLEAN_ENV, admin, startRouterProcess } from './router-process.js'
import { startColorServer } from './upstreams.js'

/**
 * Two router processes with two apps on one private Redis: a change of one
 * app through one instance is applied by the other, the other app's version
 * does not move, each app has its own keys, and the write converges across
 * both instances (the registry lists each instance's version per app).
 */

t.test("two instances on Redis apply one app's change", async (t) => {
  if (!requireRedis(t)) return
  const redis = await startRedis(t)
  const ups = await Promise.all(['shop-blue', 'shop-green', 'blog-blue', 'blog-green'].map((c) => startColorServer(c)))
  t.teardown(() => Promise.all(ups.map((u) => u.close())))
  const [sb, sg, bb, bg] = ups
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-apps-fleet-'))
  const configPath = join(dir, 'config.json')
  writeFileSync(
    configPath,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      store: { type: 'redis', url: redis.url, prefix: 'fleet' },
      log: { level: 'info' },
      apps: {
        shop: { hosts: ['shop.test'], upstreams: { blue: { targets: [sb.url] }, green: { targets: [sg.url] } } },
        blog: { hosts: ['blog.test'], upstreams: { blue: { targets: [bb.url] }, green: { targets: [bg.url] } } },
      },
    }),
  )
  const a = await startRouterProcess(configPath, CLEAN_ENV)
  t.teardown(() => a.stop('SIGKILL'))
  const b = await startRouterProcess(configPath, CLEAN_ENV)
  t.teardown(() => b.stop('SIGKILL'))

  const flip = await admin(a.adminUrl, 'POST', '/v1/apps/shop/flip', { reason: 'fleet' })
  t.match(
    flip,
    { status: 200, json: { changed: true, state: { live: 'green', version: 2 }, converged: true } },
    'converged across both instances',
  )
  await eventually(async () => (await admin(b.adminUrl, 'GET', '/v1/apps/shop/state')).json.version === 2, 10_000, 'b applies the flip')
  const served = await request(b.proxyUrl + '/', { headers: { host: 'shop.test' } })
  t.equal(served.json().color, 'shop-green', 'b routes shop to green')
  t.match(await admin(b.adminUrl, 'GET', '/v1/apps/blog/state'), { json: { version: 1, live: 'blue' } }, "blog's version did not move")
  t.equal((await request(b.proxyUrl + '/', { headers: { host: 'blog.test' } })).json().color, 'blog-blue')

  const inst = await admin(b.adminUrl, 'GET', '/v1/instances')
  t.equal(inst.json.instances.length, 2)
  for (const i of inst.json.instances) t.same(i.apps, { shop: 2, blog: 1 }, `${i.id} lists its version per app`)

  const raw = rawClient(t, redis.url)
  t.same(JSON.parse((await raw.get('fleet:app:shop:state')) as string).version, 2)
  t.same(JSON.parse((await raw.get('fleet:app:blog:state')) as string).version, 1)
  t.equal(await raw.exists('fleet:state'), 0, 'no single-app keys for named apps')
  t.equal(await raw.llen('fleet:app:shop:history'), 1)
  t.equal(await raw.llen('fleet:app:blog:history'), 0)
})
