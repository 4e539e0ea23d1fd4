import t from 'tap'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventually, requireRedis, startRedis } from '../redis/helpers.js'
import { CLEAN_ENV, admin, baseConfig, startRouterProcess, writeConfig } from './router-process.js'
import { startColorServer } from './upstreams.js'

// A Redis-backed router with store.cachePath restarts while Redis is down:
// it routes by its cached state instead of refusing to start, refuses writes
// until Redis is back, then writes its state back into the empty Redis.

t.test('restart during a Redis outage routes by the cached state', async (t) => {
  if (!requireRedis(t)) return
  const redis = await startRedis(t)
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(() => Promise.all([blue.close(), green.close()]))
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const cachePath = join(dir, 'cache', 'state.json')
  const cfg = writeConfig(
    baseConfig(dir, [blue.url], [green.url], { store: { type: 'redis', url: redis.url, prefix: 'cache-test', cachePath } }),
    dir,
  )

  const first = await startRouterProcess(cfg, CLEAN_ENV)
  t.teardown(() => first.stop('SIGKILL'))
  const flip = await admin(first.adminUrl, 'POST', '/v1/flip', { reason: 'release' })
  t.equal(flip.status, 200)
  const version = flip.json.state.version as number
  await eventually(
    () => existsSync(cachePath) && JSON.parse(readFileSync(cachePath, 'utf8')).version === version,
    10_000,
    'the cache holds the flip',
  )
  t.equal(await first.stop(), 0)

  await redis.kill()
  const second = await startRouterProcess(cfg, CLEAN_ENV, 30_000)
  t.teardown(() => second.stop('SIGKILL'))
  t.ok(
    second.logs.some((l) => l.msg === 'state store unreachable: routing by the cached state until it is back'),
    'says it uses the cache',
  )
  const served = (await (await fetch(second.proxyUrl)).json()) as { color: string }
  t.equal(served.color, 'green', 'routes by the cached state (green live)')
  const refused = await admin(second.adminUrl, 'POST', '/v1/rollback', {})
  t.equal(refused.status, 503, 'writes wait for Redis')
  t.equal(refused.json.error.code, 'STORE_UNAVAILABLE')
  t.equal((await admin(second.adminUrl, 'GET', '/readyz')).status, 503, '/readyz says the store is unreachable')

  await redis.start()
  await eventually(async () => (await admin(second.adminUrl, 'GET', '/readyz')).status === 200, 20_000, 'ready again')
  const state = await admin(second.adminUrl, 'GET', '/v1/state')
  t.same([state.json.live, state.json.version], ['green', version], 'the state was written back to the empty Redis, not reset')
  const back = await admin(second.adminUrl, 'POST', '/v1/rollback', {})
  t.equal(back.status, 200, 'writes work again')
  t.equal(back.json.state.version, version + 1)
  t.equal(((await (await fetch(second.proxyUrl)).json()) as { color: string }).color, 'blue')
  t.equal(await second.stop(), 0)
})
