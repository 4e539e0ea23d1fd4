import { hostname } from 'node:os'
import type { Redis } from 'ioredis'
import { SwitchyardError } from '../errors.js'
import {
  closeClient,
  createRedisClient,
  describeRedis,
  silentLogger,
  toStoreError,
  watchConnection,
  whenReady,
  type RedisConnectionOptions,
  type RedisLogger,
} from './store/redis-connection.js'
import { appliedApp, type InstanceInfo, type InstanceRegistry } from './single-instance.js'

/** Options of {@link createInstanceRegistry}. */
export interface InstanceRegistryOptions {
  /** its own connection (default) or an existing client (not closed by `stop`) */
  redis: RedisConnectionOptions | { client: Redis }
  prefix: string
  id: string
  /** the version this instance routes by now (of its only, or default, app) */
  appliedVersion: () => number
  /** app → version, for a router of several apps */
  apps?: () => Record<string, number>
  /** heartbeat period (default 1000 ms) */
  heartbeatMs?: number
  /** an instance missing heartbeats for this long is gone (default 5000 ms) */
  ttlMs?: number
  /** default bound of `wait` (default 1000 ms) */
  waitTimeoutMs?: number
  /** how often `wait` looks (default 15 ms) */
  pollMs?: number
  /** wall clock for `lastSeen` (default Date.now) */
  clock?: () => number
  host?: string
  pid?: number
  logger?: RedisLogger
}

/**
 * Removes an id from the set only if its key is gone: a heartbeat that ran
 * between the read and the removal must keep its instance listed.
 */
const PRUNE = `
if redis.call('EXISTS', KEYS[2]) == 0 then return redis.call('SREM', KEYS[1], ARGV[1]) end
return 0
`

interface PruneCommand {
  switchyardPrune(set: string, key: string, id: string): Promise<number>
}

/**
 * The fleet's instance list in Redis.
 *
 * Each instance keeps a key `<prefix>:instance:<id>` (JSON: id,
 * appliedVersion, lastSeen, host, pid) that expires after `ttlMs` unless a
 * heartbeat renews it, and its id in the set `<prefix>:instances`. Expiry
 * is Redis' own clock, so clock skew between hosts cannot hide or resurrect
 * an instance. `list` reads the set and the keys (no SCAN over a shared
 * Redis) and drops ids whose key expired.
 *
 * `wait(version)` is the `Convergence` of a write: it polls the list until
 * every live instance reports `appliedVersion >= version`. Call `touch()`
 * whenever this instance applies a version, so the list never lags a
 * heartbeat period behind.
 *
 * @example
 * const registry = createInstanceRegistry({ redis: { url }, prefix, id, appliedVersion: () => runtime.state.version })
 * runtime.on('change', () => registry.touch())
 * await registry.start()
 */
export function createInstanceRegistry(opts: InstanceRegistryOptions): InstanceRegistry {
  const heartbeatMs = opts.heartbeatMs ?? 1000
  const ttlMs = opts.ttlMs ?? 5000
  const waitTimeoutMs = opts.waitTimeoutMs ?? 1000
  const pollMs = opts.pollMs ?? 15
  const clock = opts.clock ?? Date.now
  const host = opts.host ?? hostname()
  const pid = opts.pid ?? process.pid
  const logger = opts.logger ?? silentLogger
  if (!(heartbeatMs > 0) || !(ttlMs > heartbeatMs)) {
    throw new SwitchyardError('CONFIG_INVALID', `instance ttlMs (${ttlMs}) must be longer than heartbeatMs (${heartbeatMs})`)
  }
  if (!/^[A-Za-z0-9:_.-]{1,200}$/.test(opts.id)) {
    throw new SwitchyardError('CONFIG_INVALID', `instance id must be 1–200 letters, digits or : _ . -, got ${JSON.stringify(opts.id)}`)
  }
  const own = !('client' in opts.redis)
  const connectTimeoutMs = ('client' in opts.redis ? undefined : opts.redis.connectTimeoutMs) ?? 1000
  const client = 'client' in opts.redis ? opts.redis.client : createRedisClient(opts.redis, 'commands')
  const where = 'client' in opts.redis ? 'redis (shared client)' : describeRedis(opts.redis)
  if (own) watchConnection(client, logger, `${where} (instances)`)
  client.defineCommand('switchyardPrune', { numberOfKeys: 2, lua: PRUNE })
  const prune = client as unknown as PruneCommand

  const setKey = `${opts.prefix}:instances`
  const keyOf = (id: string): string => `${opts.prefix}:instance:${id}`
  const ownKey = keyOf(opts.id)

  let timer: NodeJS.Timeout | null = null
  let running = false
  let stopped = false
  let beating: Promise<void> | null = null
  let beatAgain = false

  async function beatOnce(): Promise<void> {
    if (client.status !== 'ready') return
    const info: InstanceInfo = {
      id: opts.id,
      appliedVersion: opts.appliedVersion(),
      lastSeen: new Date(clock()).toISOString(),
      host,
      pid,
    }
    if (opts.apps !== undefined) info.apps = opts.apps()
    // One round trip; the key and the set membership go together.
    await client.multi().set(ownKey, JSON.stringify(info), 'PX', ttlMs).sadd(setKey, opts.id).exec()
  }

  /** Heartbeats serialize; a touch during one makes one more, with the newest version. */
  function beat(): Promise<void> {
    if (!running) return Promise.resolve()
    if (beating !== null) {
      beatAgain = true
      return beating
    }
    beating = (async () => {
      try {
        do {
          beatAgain = false
          await beatOnce()
        } while (beatAgain && running)
      } catch {
        // Outages are logged once by the connection watcher; the next beat retries.
      } finally {
        beating = null
      }
    })()
    return beating
  }

  async function list(): Promise<InstanceInfo[]> {
    await whenReady(client, connectTimeoutMs, where)
    try {
      const ids = (await client.smembers(setKey)).sort()
      if (ids.length === 0) return []
      const values = await client.mget(ids.map(keyOf))
      const live: InstanceInfo[] = []
      for (let i = 0; i < ids.length; i++) {
        const raw = values[i]
        const info = raw === null ? null : parseInfo(raw)
        if (info !== null) live.push(info)
        else prune.switchyardPrune(setKey, keyOf(ids[i]), ids[i]).catch(() => undefined)
      }
      return live
    } catch (e) {
      throw toStoreError(e, `${where} instances`)
    }
  }

  return {
    id: opts.id,

    async start() {
      if (running) return
      running = true
      client.on('ready', onReady)
      timer = setInterval(() => void beat(), heartbeatMs)
      timer.unref()
      // Listed before start returns, unless Redis is down: then the
      // heartbeat registers this instance as soon as it is back.
      await whenReady(client, connectTimeoutMs, where).catch(() => undefined)
      await beat()
    },

    async stop() {
      stopped = true
      if (!running) return
      running = false
      client.off('ready', onReady)
      if (timer !== null) clearInterval(timer)
      await beating
      if (client.status === 'ready') {
        await client.multi().del(ownKey).srem(setKey, opts.id).exec().catch(() => undefined)
      }
      if (own) await closeClient(client)
    },

    touch() {
      void beat()
    },

    list,

    async wait(version, timeoutMs = waitTimeoutMs, app) {
      // Real time, not `clock`: this bounds how long a write's answer waits.
      const deadline = performance.now() + timeoutMs
      for (;;) {
        try {
          const verdicts = (await list()).map((i) => appliedApp(i, version, app)).filter((v) => v !== null)
          if (verdicts.length > 0 && verdicts.every((v) => v)) return true
        } catch {
          // Redis down: the write happened; whether all applied it is unknown.
        }
        const left = deadline - performance.now()
        if (left <= 0 || stopped) return false
        await new Promise((r) => setTimeout(r, Math.min(pollMs, left)))
      }
    },
  }

  function onReady(): void {
    // Back after an outage (maybe an empty Redis): be listed again at once.
    void beat()
  }
}

function parseInfo(raw: string): InstanceInfo | null {
  try {
    const v = JSON.parse(raw) as InstanceInfo
    if (typeof v === 'object' && v !== null && typeof v.id === 'string' && Number.isInteger(v.appliedVersion)) return v
  } catch {
    // an unreadable entry is treated as gone
  }
  return null
}

export { singleInstance, type InstanceInfo, type InstanceRegistry } from './single-instance.js'
