import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventually, requireRedis, startRedis, startSentinel, testPrefix } from '../redis/helpers.js'
import { CLEAN_ENV, baseConfig, startRouterProcess, writeConfig } from './router-process.js'
import { startColorServer } from './upstreams.js'

// What a Redis-backed router logs about its connections: the real address
// (with Sentinel, the master's, not the placeholder URL), and nothing about
// an outage when it closes its connections on purpose.

const UNREACHABLE = 'redis unreachable; retrying in the background'
const BACK = 'redis reachable again'

t.test('a clean SIGTERM logs no outage', async (t) => {
  if (!requireRedis(t)) return
  const redis = await startRedis(t)
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(() => Promise.all([blue.close(), green.close()]))
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const cfg = writeConfig(baseConfig(dir, [blue.url], [green.url], { store: { type: 'redis', url: redis.url, prefix: testPrefix() } }), dir)
  const router = await startRouterProcess(cfg, CLEAN_ENV)
  t.teardown(() => router.stop('SIGKILL'))
  t.equal(await router.stop(), 0)
  t.same(
    router.logs.filter((l) => l.msg === UNREACHABLE),
    [],
    'closing its own connections is not an outage',
  )
})

t.test('with Sentinel, outages name the master address; a clean SIGTERM logs none', async (t) => {
  if (!requireRedis(t)) return
  const master = await startRedis(t)
  const sentinel = await startSentinel(t, master.port, 'mymaster')
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(() => Promise.all([blue.close(), green.close()]))
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const store = {
    type: 'redis',
    url: 'redis://placeholder.invalid:6379',
    prefix: testPrefix(),
    sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
    name: 'mymaster',
  }
  const router = await startRouterProcess(writeConfig(baseConfig(dir, [blue.url], [green.url], { store }), dir), CLEAN_ENV)
  t.teardown(() => router.stop('SIGKILL'))

  await master.kill()
  // Two connections, shared by every app: the store's commands (the instance
  // registry uses it too) and its subscriber.
  await eventually(() => router.logs.filter((l) => l.msg === UNREACHABLE).length >= 2, 15_000, 'two outage warnings')
  const warnings = router.logs.filter((l) => l.msg === UNREACHABLE)
  t.same([...new Set(warnings.map((w) => String(w.redis).endsWith('(subscriber)')))].sort(), [false, true], 'one from each connection')
  for (const w of warnings) {
    t.equal(w.address, `127.0.0.1:${master.port}`, `names the master's address: ${JSON.stringify(w)}`)
    t.match(w.redis, /^sentinel master mymaster via 127\.0\.0\.1:\d+/, 'and how it was found')
    t.notMatch(JSON.stringify(w), /placeholder/, 'never the placeholder URL')
  }

  await master.start()
  await eventually(() => router.logs.filter((l) => l.msg === BACK).length >= 2, 15_000, 'two recoveries')
  for (const b of router.logs.filter((l) => l.msg === BACK)) t.equal(b.address, `127.0.0.1:${master.port}`)

  const before = router.logs.length
  t.equal(await router.stop(), 0)
  t.same(
    router.logs.slice(before).filter((l) => l.msg === UNREACHABLE),
    [],
    'a clean SIGTERM logs no outage',
  )
})
