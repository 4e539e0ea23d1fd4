import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rawClient, requireRedis, startRedis } from '../redis/helpers.js'
import { CLEAN_ENV, admin, baseConfig, startRouterProcess, writeConfig } from './router-process.js'
import { startColorServer } from './upstreams.js'

/**
 * Issue 10, defect 4: with Redis stalled (SIGSTOP), a write answers 503
 * STORE_UNAVAILABLE after the command timeout; when Redis wakes up with the
 * write still in its buffer, the commit script finds itself past its
 * deadline and refuses. An operator told "failed" can rely on it.
 */

t.test('a write answered 503 during a Redis stall is never applied later', async (t) => {
  if (!requireRedis(t)) return
  const redis = await startRedis(t)
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(async () => {
    redis.resume()
    await blue.close()
    await green.close()
  })
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-late-'))
  const r = await startRouterProcess(
    writeConfig(baseConfig(dir, [blue.url], [green.url], { store: { type: 'redis', url: redis.url, prefix: 'late' } })),
    CLEAN_ENV,
  )
  t.teardown(() => r.stop('SIGKILL'))
  // A first write measures the clocks and proves the path works.
  t.match(await admin(r.adminUrl, 'PUT', '/v1/canary', { percent: 5, force: true }), {
    status: 200,
    json: { state: { canary: 5, version: 2 } },
  })

  redis.pause()
  const refused = await admin(r.adminUrl, 'PUT', '/v1/canary', { percent: 40, force: true })
  t.equal(refused.status, 503)
  t.equal(refused.json.error.code, 'STORE_UNAVAILABLE')
  redis.resume()

  // Give the woken server time to run whatever it had buffered, and the
  // router time to resync.
  const raw = rawClient(t, redis.url)
  await new Promise((res) => setTimeout(res, 1500))
  const stored = JSON.parse((await raw.get('late:state')) as string)
  t.equal(stored.canary, 5, 'the refused write did not happen in Redis')
  t.equal(stored.version, 2)
  t.equal(await raw.llen('late:history'), 1, 'no history entry for it either')
  t.match(await admin(r.adminUrl, 'GET', '/v1/state'), { json: { canary: 5, version: 2 } }, 'nor on the router')
  // And writes work again.
  t.match(await admin(r.adminUrl, 'PUT', '/v1/canary', { percent: 10, force: true }), {
    status: 200,
    json: { state: { canary: 10, version: 3 } },
  })
})
