import t from 'tap'
import { createRedisClient, describeRedis, redactUrl, redisOptions } from '../../src/control/store/redis-connection.js'

// Pure option building: no server needed, so these run everywhere.

t.test('commands fail fast; the subscriber keeps its SUBSCRIBE queued', async (t) => {
  const cmd = redisOptions({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 250, connectTimeoutMs: 300 }, 'commands')
  t.equal(cmd.enableOfflineQueue, false)
  t.equal(cmd.maxRetriesPerRequest, 0)
  t.equal(cmd.autoResendUnfulfilledCommands, false, 'a failed commit is never replayed after a reconnect')
  t.equal(cmd.commandTimeout, 250)
  t.equal(cmd.connectTimeout, 300)
  t.equal(cmd.lazyConnect, true)
  const sub = redisOptions({ url: 'redis://127.0.0.1:1' }, 'subscriber')
  t.equal(sub.enableOfflineQueue, true)
  t.equal(sub.maxRetriesPerRequest, null)
  t.equal(sub.commandTimeout, undefined)
})

t.test('reconnect backoff grows and is capped, never gives up', async (t) => {
  const o = redisOptions({ url: 'redis://127.0.0.1:1', reconnectMaxDelayMs: 700 }, 'commands')
  const delays = [1, 2, 3, 4, 5, 100, 10_000].map((n) => o.retryStrategy?.(n))
  t.same(delays, [100, 200, 400, 700, 700, 700, 700])
})

t.test('Sentinel: sentinels and master name; the name is required', async (t) => {
  const o = redisOptions({ url: 'redis://:pw@ignored:6379/2', sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster' }, 'commands')
  t.same(o.sentinels, [{ host: 's1', port: 26379 }])
  t.equal(o.name, 'mymaster')
  t.type(o.sentinelRetryStrategy, 'function')
  t.throws(() => redisOptions({ url: 'redis://x', sentinels: [{ host: 's1', port: 26379 }] }, 'commands'), { code: 'CONFIG_INVALID' })
  // The URL still gives the password and db in Sentinel mode.
  const c = createRedisClient({ url: 'redis://:pw@ignored:6379/2', sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster' }, 'commands')
  t.teardown(() => c.disconnect())
  t.equal(c.options.password, 'pw')
  t.equal(c.options.db, 2)
})

t.test('rediss:// turns TLS on; passwords never reach logs', async (t) => {
  const c = createRedisClient({ url: 'rediss://user:secret@redis.example:6380' }, 'commands')
  t.teardown(() => c.disconnect())
  t.ok(c.options.tls, 'tls options set from the URL')
  t.equal(c.status, 'wait', 'nothing connects before the store is opened')
  t.equal(redactUrl('rediss://user:secret@redis.example:6380'), 'rediss://user:***@redis.example:6380')
  t.notMatch(redactUrl('redis://:secret@h:1'), /secret/)
})

t.test('logs name Sentinel connections by master and sentinels, never by the placeholder URL', async (t) => {
  const sentinel = describeRedis({
    url: 'redis://:secret@ignored:6379/2',
    sentinels: [
      { host: 's1', port: 26379 },
      { host: '::1', port: 26380 },
    ],
    name: 'mymaster',
  })
  t.equal(sentinel, 'sentinel master mymaster via s1:26379,[::1]:26380')
  t.equal(describeRedis({ url: 'redis://:secret@h:1' }), 'redis://:***@h:1', 'a plain URL, redacted')
})
