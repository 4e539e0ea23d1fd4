import { hostname } from 'node:os'
import type { Redis } from 'ioredis'
import { SwitchyardError } from '../errors.js'
import { silentLog, type Log } from '../observability/logger.js'
import {
  closeClient,
  createRedisClient,
  describeRedis,
  toStoreError,
  watchConnection,
  whenReady,
  type RedisConnectionOptions,
} from './store/redis-connection.js'
import { appliedApp, type InstanceInfo, type InstanceRegistry } from './single-instance.js'

/** Options of {@link RedisInstanceRegistry}. */
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
  logger?: Log
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
 * const registry = new RedisInstanceRegistry({ redis: { url }, prefix, id, appliedVersion: () => runtime.state.version })
 * runtime.on('change', () => registry.touch())
 * await registry.start()
 */
export class RedisInstanceRegistry implements InstanceRegistry {
  readonly id: string
  readonly #opts: InstanceRegistryOptions
  readonly #heartbeatMs: number
  readonly #ttlMs: number
  readonly #waitTimeoutMs: number
  readonly #pollMs: number
  readonly #clock: () => number
  readonly #host: string
  readonly #pid: number
  /** whether the registry opened its client (and so closes it) */
  readonly #own: boolean
  readonly #connectTimeoutMs: number
  readonly #client: Redis
  readonly #where: string
  readonly #setKey: string
  readonly #ownKey: string
  #timer: NodeJS.Timeout | null = null
  #running = false
  #stopped = false
  #beating: Promise<void> | null = null
  #beatAgain = false

  constructor(opts: InstanceRegistryOptions) {
    this.#heartbeatMs = opts.heartbeatMs ?? 1000
    this.#ttlMs = opts.ttlMs ?? 5000
    if (!(this.#heartbeatMs > 0) || !(this.#ttlMs > this.#heartbeatMs)) {
      throw new SwitchyardError('CONFIG_INVALID', `instance ttlMs (${this.#ttlMs}) must be longer than heartbeatMs (${this.#heartbeatMs})`)
    }
    if (!/^[A-Za-z0-9:_.-]{1,200}$/.test(opts.id)) {
      throw new SwitchyardError('CONFIG_INVALID', `instance id must be 1–200 letters, digits or : _ . -, got ${JSON.stringify(opts.id)}`)
    }
    this.id = opts.id
    this.#opts = opts
    this.#waitTimeoutMs = opts.waitTimeoutMs ?? 1000
    this.#pollMs = opts.pollMs ?? 15
    this.#clock = opts.clock ?? Date.now
    this.#host = opts.host ?? hostname()
    this.#pid = opts.pid ?? process.pid
    const redis = opts.redis
    this.#own = !('client' in redis)
    this.#connectTimeoutMs = ('client' in redis ? undefined : redis.connectTimeoutMs) ?? 1000
    this.#client = 'client' in redis ? redis.client : createRedisClient(redis, 'commands')
    this.#where = 'client' in redis ? 'redis (shared client)' : describeRedis(redis)
    if (this.#own) watchConnection(this.#client, opts.logger ?? silentLog, `${this.#where} (instances)`)
    this.#client.defineCommand('switchyardPrune', { numberOfKeys: 2, lua: PRUNE })
    this.#setKey = `${opts.prefix}:instances`
    this.#ownKey = this.#keyOf(opts.id)
  }

  async start(): Promise<void> {
    if (this.#running) return
    this.#running = true
    this.#client.on('ready', this.#onReady)
    this.#timer = setInterval(() => void this.#beat(), this.#heartbeatMs)
    this.#timer.unref()
    // Listed before start returns, unless Redis is down: then the
    // heartbeat registers this instance as soon as it is back.
    await whenReady(this.#client, this.#connectTimeoutMs, this.#where).catch(() => undefined)
    await this.#beat()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (!this.#running) return
    this.#running = false
    this.#client.off('ready', this.#onReady)
    if (this.#timer !== null) clearInterval(this.#timer)
    await this.#beating
    if (this.#client.status === 'ready') {
      await this.#client
        .multi()
        .del(this.#ownKey)
        .srem(this.#setKey, this.id)
        .exec()
        .catch(() => undefined)
    }
    if (this.#own) await closeClient(this.#client)
  }

  touch(): void {
    void this.#beat()
  }

  async list(): Promise<InstanceInfo[]> {
    await whenReady(this.#client, this.#connectTimeoutMs, this.#where)
    try {
      const ids = (await this.#client.smembers(this.#setKey)).sort()
      if (ids.length === 0) return []
      const values = await this.#client.mget(ids.map((id) => this.#keyOf(id)))
      const live: InstanceInfo[] = []
      const prune = this.#client as unknown as PruneCommand
      for (let i = 0; i < ids.length; i++) {
        const raw = values[i]
        const info = raw === null ? null : parseInfo(raw)
        if (info !== null) live.push(info)
        else prune.switchyardPrune(this.#setKey, this.#keyOf(ids[i]), ids[i]).catch(() => undefined)
      }
      return live
    } catch (e) {
      throw toStoreError(e, `${this.#where} instances`)
    }
  }

  async wait(version: number, timeoutMs = this.#waitTimeoutMs, app?: string): Promise<boolean> {
    // Real time, not `clock`: this bounds how long a write's answer waits.
    const deadline = performance.now() + timeoutMs
    for (;;) {
      try {
        const verdicts = (await this.list()).map((i) => appliedApp(i, version, app)).filter((v) => v !== null)
        if (verdicts.length > 0 && verdicts.every((v) => v)) return true
      } catch {
        // Redis down: the write happened; whether all applied it is unknown.
      }
      const left = deadline - performance.now()
      if (left <= 0 || this.#stopped) return false
      await new Promise((r) => setTimeout(r, Math.min(this.#pollMs, left)))
    }
  }

  #keyOf(id: string): string {
    return `${this.#opts.prefix}:instance:${id}`
  }

  readonly #onReady = (): void => {
    // Back after an outage (maybe an empty Redis): be listed again at once.
    void this.#beat()
  }

  async #beatOnce(): Promise<void> {
    if (this.#client.status !== 'ready') return
    const info: InstanceInfo = {
      id: this.id,
      appliedVersion: this.#opts.appliedVersion(),
      lastSeen: new Date(this.#clock()).toISOString(),
      host: this.#host,
      pid: this.#pid,
    }
    if (this.#opts.apps !== undefined) info.apps = this.#opts.apps()
    // One round trip; the key and the set membership go together.
    await this.#client.multi().set(this.#ownKey, JSON.stringify(info), 'PX', this.#ttlMs).sadd(this.#setKey, this.id).exec()
  }

  /** Heartbeats serialize; a touch during one makes one more, with the newest version. */
  #beat(): Promise<void> {
    if (!this.#running) return Promise.resolve()
    if (this.#beating !== null) {
      this.#beatAgain = true
      return this.#beating
    }
    this.#beating = (async () => {
      try {
        do {
          this.#beatAgain = false
          await this.#beatOnce()
        } while (this.#beatAgain && this.#running)
      } catch {
        // Outages are logged once by the connection watcher; the next beat retries.
      } finally {
        this.#beating = null
      }
    })()
    return this.#beating
  }
}

/** A {@link RedisInstanceRegistry} (the factory other modules call). */
export function createInstanceRegistry(opts: InstanceRegistryOptions): InstanceRegistry {
  return new RedisInstanceRegistry(opts)
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
