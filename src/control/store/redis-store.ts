import type { Redis } from 'ioredis'
import { SwitchyardError } from '../../errors.js'
import type { HistoryEntry, State } from '../../routing/index.js'
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
} from './redis-connection.js'
import { defineStoreScripts, type StoreKeys } from './redis-scripts.js'
import type { StateStore } from './types.js'

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions extends RedisConnectionOptions {
  /** key prefix: `<prefix>:state`, `<prefix>:history`, channel `<prefix>:changes` */
  prefix: string
  /** this instance's id, for logs */
  instanceId: string
  /** periodic re-read, so a lost message never leaves this instance behind (default 5000 ms) */
  resyncIntervalMs?: number
  /** history entries kept, newest first (default 1000) */
  historyLimit?: number
  logger?: RedisLogger
  /**
   * The state this instance routes by (the runtime's). Written back when
   * Redis comes back empty or older, so the fleet keeps its live color and
   * version instead of falling back to `initial`.
   */
  getLocalState?: () => State | null
  /**
   * Connections owned by someone else and shared by many stores (one per
   * app): the store subscribes to its own channel on `sub`, never watches
   * nor closes them. Absent: the store opens and closes its own two.
   */
  shared?: { client: Redis; sub: Redis }
}

/** The keys and channel under `prefix`. */
export function redisKeys(prefix: string): StoreKeys {
  return { state: `${prefix}:state`, history: `${prefix}:history`, channel: `${prefix}:changes` }
}

/**
 * The store for many instances: state and history in Redis, shared by every
 * router of a fleet.
 *
 * - `commit` is one Lua script: compare-and-set on the stored version, push
 *   the history entry (capped), PUBLISH the new state; all or nothing.
 * - A second connection subscribes to `<prefix>:changes`; a newer state
 *   reaches the `onState` listeners as soon as it is published. It is also
 *   re-read on every reconnect and every `resyncIntervalMs`, so a lost
 *   message costs at most one interval. Listeners only ever see versions
 *   newer than the newest this store delivered, loaded or committed.
 * - Redis down: commands fail at once (no offline queue) or within the
 *   command timeout, as STORE_UNAVAILABLE; the clients reconnect by
 *   themselves; `reachable()` says false meanwhile, and also while a
 *   server that keeps the connection open stops answering (timeouts).
 * - Redis back without data (no persistence) or with an older version:
 *   the newest state this instance holds is written back with a
 *   compare-and-set, so the fleet never restarts from `initial`. The history
 *   before that point is lost with Redis' data.
 *
 * @example
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'switchyard', instanceId,
 *   getLocalState: () => runtime?.state ?? null })
 * const state = (await store.load()) ?? (await store.initialize(initialState('blue', now)))
 * store.onState((s) => runtime.apply(s))
 */
export function createRedisStore(opts: RedisStoreOptions): StateStore {
  const keys = redisKeys(opts.prefix)
  const historyLimit = opts.historyLimit ?? 1000
  const resyncIntervalMs = opts.resyncIntervalMs ?? 5000
  const connectTimeoutMs = opts.connectTimeoutMs ?? 1000
  const logger = opts.logger ?? silentLogger
  if (!Number.isInteger(historyLimit) || historyLimit < 1) {
    throw new SwitchyardError('CONFIG_INVALID', `historyLimit must be a positive integer, got ${historyLimit}`)
  }
  if (!(resyncIntervalMs > 0)) {
    throw new SwitchyardError('CONFIG_INVALID', `resyncIntervalMs must be positive, got ${resyncIntervalMs}`)
  }
  const where = describeRedis(opts)
  const shared = opts.shared
  const client = shared?.client ?? createRedisClient(opts, 'commands')
  const sub = shared?.sub ?? createRedisClient(opts, 'subscriber')
  if (shared === undefined) {
    watchConnection(client, logger, where)
    watchConnection(sub, logger, `${where} (subscriber)`)
  }
  const scripts = defineStoreScripts(client, keys)

  const listeners: ((state: State) => void)[] = []
  /** the newest state seen: loaded, received, committed or written back */
  let known: State | null = null
  /** JSON of commits in flight: their own announcement is not news */
  const inflight = new Set<string>()
  let opened = false
  let closed = false
  let timer: NodeJS.Timeout | null = null
  let resyncing: Promise<void> | null = null
  let resyncAgain = false
  /** the connection is up but the last command timed out (a hung server) */
  let silent = false

  /** Records `state` if newer; returns whether it was. */
  function note(state: State): boolean {
    if (known !== null && state.version <= known.version) return false
    known = state
    return true
  }

  /** Hands a state read from Redis to the listeners, once, if it is news. */
  function deliver(state: State): void {
    if (!note(state)) return
    for (const listener of listeners) {
      try {
        listener(state)
      } catch (e) {
        logger.error({ err: (e as Error).message, version: state.version }, 'state listener failed')
      }
    }
  }

  function decode(raw: string, what: string): State {
    const state = parseState(raw)
    if (state === null) {
      throw new SwitchyardError(
        'STORE_UNAVAILABLE',
        `redis key ${keys.state} (${what}) does not hold a valid state; fix or delete it, it is never reset silently`,
      )
    }
    return state
  }

  /** Connects both clients once and starts the periodic resync. */
  function open(): void {
    if (opened || closed) return
    opened = true
    client.on('ready', onClientReady)
    sub.on('ready', onSubReady)
    sub.on('message', onMessage)
    if (sub.status === 'wait') sub.connect().catch(() => undefined)
    // Queued in the subscriber's offline queue until it connects; ioredis
    // subscribes again by itself after every reconnect.
    sub.subscribe(keys.channel).catch(() => undefined)
    timer = setInterval(() => void resync('timer'), resyncIntervalMs)
    timer.unref()
  }

  function onClientReady(): void {
    silent = false
    void resync('reconnect')
  }

  function onSubReady(): void {
    void resync('subscriber reconnect')
  }

  function onMessage(channel: string, message: string): void {
    if (channel !== keys.channel || inflight.has(message)) return
    const state = parseState(message)
    if (state === null) {
      logger.warn({ channel }, 'ignored a message that is not a valid state')
      return
    }
    deliver(state)
  }

  async function ready(): Promise<void> {
    if (closed) throw new SwitchyardError('STORE_UNAVAILABLE', 'the redis store is closed')
    open()
    await whenReady(client, connectTimeoutMs, where)
  }

  /** The newest of what this instance routes by and what it has seen. */
  function localNewest(): State | null {
    const local = opts.getLocalState?.() ?? null
    if (local === null) return known
    if (known === null) return local
    return local.version >= known.version ? local : known
  }

  /**
   * Writes `state` back when Redis lost it (mode 'empty') or went back to
   * an older version (mode 'older'); whatever is stored afterwards is
   * delivered, so instances that are behind catch up either way.
   */
  async function writeBack(state: State, mode: 'empty' | 'older', stored: number | null): Promise<void> {
    const reply = await scripts.restore(JSON.stringify(state), state.version, mode)
    if (reply.stored) {
      note(state)
      logger.warn(
        { instance: opts.instanceId, version: state.version, live: state.live, storedVersion: stored },
        mode === 'empty'
          ? 'redis had no state (restarted without persistence?); wrote back the state this instance holds; earlier history is lost'
          : 'redis held an older state (restored from an old snapshot or a lagging replica?); wrote back the newer state this instance holds',
      )
      return
    }
    deliver(decode(reply.current, 'write-back'))
  }

  /** Runs one Redis call, tracking whether the server answers at all. */
  async function watched<T>(p: Promise<T>): Promise<T> {
    try {
      const v = await p
      silent = false
      return v
    } catch (e) {
      if (/timed out/i.test((e as Error).message)) silent = true
      throw e
    }
  }

  async function resyncOnce(): Promise<void> {
    if (client.status !== 'ready') return
    const raw = await watched(client.get(keys.state))
    const local = localNewest()
    if (raw === null) {
      if (local !== null) await writeBack(local, 'empty', null)
      return
    }
    const stored = decode(raw, 'resync')
    deliver(stored)
    if (local !== null && stored.version < local.version) await writeBack(local, 'older', stored.version)
  }

  /** Re-reads the state; overlapping calls fold into one extra pass. */
  function resync(reason: string): Promise<void> {
    if (closed) return Promise.resolve()
    if (resyncing !== null) {
      resyncAgain = true
      return resyncing
    }
    resyncing = (async () => {
      try {
        do {
          resyncAgain = false
          await resyncOnce()
        } while (resyncAgain && !closed)
      } catch (e) {
        // The connection watcher already reports outages; this is for the rest.
        if (client.status === 'ready') logger.warn({ reason, err: (e as Error).message }, 'redis resync failed')
      } finally {
        resyncing = null
      }
    })()
    return resyncing
  }

  async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    await ready()
    try {
      return await watched(fn())
    } catch (e) {
      throw toStoreError(e, `${where} ${what}`)
    }
  }

  return {
    kind: 'redis',

    load() {
      return call('load', async () => {
        const raw = await client.get(keys.state)
        if (raw === null) return null
        const state = decode(raw, 'load')
        deliver(state)
        return state
      })
    },

    initialize(state) {
      return call('initialize', async () => {
        const reply = await scripts.restore(JSON.stringify(state), state.version, 'empty')
        if (reply.stored) {
          note(state)
          return state
        }
        // Another instance was first: that state is the fleet's.
        const stored = decode(reply.current, 'initialize')
        deliver(stored)
        return stored
      })
    },

    commit(next, entry) {
      return call('commit', async () => {
        const json = JSON.stringify(next)
        const entryJson = JSON.stringify(entry)
        inflight.add(json)
        try {
          let reply = await scripts.commit(next.version - 1, json, entryJson, historyLimit)
          if (reply.kind === 'mismatch' && reply.current === null) {
            // Redis lost its data since this instance last looked: put back
            // what we hold, then try once more against that.
            const local = localNewest()
            if (local !== null) {
              await writeBack(local, 'empty', null)
              reply = await scripts.commit(next.version - 1, json, entryJson, historyLimit)
            }
          }
          if (reply.kind === 'stored') {
            note(next)
            return
          }
          if (reply.kind === 'corrupt') {
            throw new SwitchyardError(
              'STORE_UNAVAILABLE',
              `redis key ${keys.state} does not hold a valid state; fix or delete it, it is never reset silently`,
            )
          }
          const current = reply.current === null ? null : decode(reply.current, 'commit')
          // A caller with a stale If-Match gets no reload: hand the newer state
          // to the listeners so this instance catches up anyway.
          if (current !== null) deliver(current)
          throw new SwitchyardError(
            'VERSION_MISMATCH',
            `cannot store version ${next.version}: the stored version is ${current === null ? 'none (empty store)' : current.version}`,
          )
        } finally {
          inflight.delete(json)
        }
      })
    },

    history(limit) {
      if (limit <= 0) return Promise.resolve([])
      return call('history', async () => {
        const raws = await client.lrange(keys.history, 0, Math.min(limit, historyLimit) - 1)
        const entries: HistoryEntry[] = []
        for (const raw of raws) {
          const entry = parseEntry(raw)
          if (entry !== null) entries.push(entry)
        }
        return entries
      })
    },

    onState(listener) {
      listeners.push(listener)
    },

    reachable() {
      return !closed && client.status === 'ready' && !silent
    },

    async close() {
      if (closed) return
      closed = true
      if (timer !== null) clearInterval(timer)
      await resyncing
      if (shared === undefined) {
        await Promise.all([closeClient(client), closeClient(sub)])
        return
      }
      client.off('ready', onClientReady)
      sub.off('ready', onSubReady)
      sub.off('message', onMessage)
      if (sub.status === 'ready') await sub.unsubscribe(keys.channel).catch(() => undefined)
    },
  }
}

/** Parses a stored or published state; null when it is not one. */
export function parseState(raw: string): State | null {
  let v: unknown
  try {
    v = JSON.parse(raw)
  } catch {
    return null
  }
  if (typeof v !== 'object' || v === null) return null
  const s = v as Record<string, unknown>
  const ok =
    Number.isInteger(s.version) &&
    (s.version as number) >= 0 &&
    (s.live === 'blue' || s.live === 'green') &&
    typeof s.canary === 'number' &&
    Array.isArray(s.cohorts)
  return ok ? (v as State) : null
}

function parseEntry(raw: string): HistoryEntry | null {
  try {
    const v = JSON.parse(raw) as unknown
    if (typeof v === 'object' && v !== null && Number.isInteger((v as HistoryEntry).version)) return v as HistoryEntry
  } catch {
    // skipped below
  }
  return null
}
