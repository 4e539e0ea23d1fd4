import type { Redis } from 'ioredis'
import { SwitchyardError } from '../../errors.js'
import { silentLog, type Log } from '../../observability/logger.js'
import type { HistoryEntry, State } from '../../routing/index.js'
import {
  closeClient,
  createRedisClient,
  describeRedis,
  toStoreError,
  watchConnection,
  whenReady,
  type RedisConnectionOptions,
} from './redis-connection.js'
import { defineStoreScripts, type StoreKeys } from './redis-scripts.js'
import { spreadableStore, type StateStore } from './types.js'

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions extends RedisConnectionOptions {
  /** key prefix: `<prefix>:state`, `<prefix>:history`, channel `<prefix>:changes` */
  prefix: string
  /** this instance's id, for logs */
  instanceId: string
  /** periodic re-read, so a lost message never leaves this instance behind (default 5000 ms) */
  resyncIntervalMs?: number
  /** history entries kept, newest first (default 1000) */
  historyLimit?: number
  logger?: Log
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
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'switchyard', instanceId,
 *   getLocalState: () => runtime?.state ?? null })
 * const state = (await store.load()) ?? (await store.initialize(initialState('blue', now)))
 * store.onState((s) => runtime.apply(s))
 */
/** What is left of the client's command timeout for the commit's reply to come back. */
const COMMIT_REPLY_MARGIN_MS = 250

export class RedisStore implements StateStore {
  readonly kind = 'redis'
  readonly #opts: RedisStoreOptions
  readonly #keys: StoreKeys
  readonly #historyLimit: number
  readonly #resyncIntervalMs: number
  readonly #connectTimeoutMs: number
  readonly #logger: Log
  readonly #where: string
  readonly #shared: boolean
  readonly #client: Redis
  readonly #sub: Redis
  readonly #scripts: ReturnType<typeof defineStoreScripts>
  readonly #listeners: ((state: State) => void)[] = []
  /** the newest state seen: loaded, received, committed or written back */
  #known: State | null = null
  /** JSON of commits in flight: their own announcement is not news */
  readonly #inflight = new Set<string>()
  #opened = false
  #closed = false
  #timer: NodeJS.Timeout | null = null
  #resyncing: Promise<void> | null = null
  #resyncAgain = false
  /** the connection is up but the last command timed out (a hung server) */
  #silent = false
  /** Redis' clock minus ours, in ms (measured with TIME); null until measured */
  #offsetMs: number | null = null
  /** how long a commit may take to reach Redis and run before the script refuses it */
  readonly #commitBudgetMs: number

  constructor(opts: RedisStoreOptions) {
    this.#opts = opts
    this.#keys = redisKeys(opts.prefix)
    this.#historyLimit = opts.historyLimit ?? 1000
    this.#resyncIntervalMs = opts.resyncIntervalMs ?? 5000
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 1000
    // The script must run well before the client's own command timeout, so
    // that a reply the client still waits for is never a write it reports
    // as failed; 250 ms is the margin for the reply's way back.
    this.#commitBudgetMs = Math.max(100, (opts.commandTimeoutMs ?? 1000) - COMMIT_REPLY_MARGIN_MS)
    this.#logger = opts.logger ?? silentLog
    if (!Number.isInteger(this.#historyLimit) || this.#historyLimit < 1) {
      throw new SwitchyardError('CONFIG_INVALID', `historyLimit must be a positive integer, got ${this.#historyLimit}`)
    }
    if (!(this.#resyncIntervalMs > 0)) {
      throw new SwitchyardError('CONFIG_INVALID', `resyncIntervalMs must be positive, got ${this.#resyncIntervalMs}`)
    }
    this.#where = describeRedis(opts)
    this.#shared = opts.shared !== undefined
    this.#client = opts.shared?.client ?? createRedisClient(opts, 'commands')
    this.#sub = opts.shared?.sub ?? createRedisClient(opts, 'subscriber')
    if (!this.#shared) {
      watchConnection(this.#client, this.#logger, this.#where)
      watchConnection(this.#sub, this.#logger, `${this.#where} (subscriber)`)
    }
    this.#scripts = defineStoreScripts(this.#client, this.#keys)
  }

  load(): Promise<State | null> {
    return this.#call('load', async () => {
      const raw = await this.#client.get(this.#keys.state)
      if (raw === null) return null
      const state = this.#decode(raw, 'load')
      this.#deliver(state)
      return state
    })
  }

  initialize(state: State): Promise<State> {
    return this.#call('initialize', async () => {
      const reply = await this.#scripts.restore(JSON.stringify(state), state.version, 'empty')
      if (reply.stored) {
        this.#note(state)
        return state
      }
      // Another instance was first: that state is the fleet's.
      const stored = this.#decode(reply.current, 'initialize')
      this.#deliver(stored)
      return stored
    })
  }

  commit(next: State, entry: HistoryEntry): Promise<void> {
    return this.#call('commit', async () => {
      const json = JSON.stringify(next)
      this.#inflight.add(json)
      try {
        await this.#commitOnce(next, json, JSON.stringify(entry))
      } finally {
        this.#inflight.delete(json)
      }
    })
  }

  history(limit: number): Promise<HistoryEntry[]> {
    if (limit <= 0) return Promise.resolve([])
    return this.#call('history', async () => {
      const raws = await this.#client.lrange(this.#keys.history, 0, Math.min(limit, this.#historyLimit) - 1)
      const entries: HistoryEntry[] = []
      for (const raw of raws) {
        const entry = parseEntry(raw)
        if (entry !== null) entries.push(entry)
      }
      return entries
    })
  }

  onState(listener: (state: State) => void): void {
    this.#listeners.push(listener)
  }

  reachable(): boolean {
    return !this.#closed && this.#client.status === 'ready' && !this.#silent
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== null) clearInterval(this.#timer)
    await this.#resyncing
    if (!this.#shared) {
      await Promise.all([closeClient(this.#client), closeClient(this.#sub)])
      return
    }
    this.#client.off('ready', this.#onClientReady)
    this.#sub.off('ready', this.#onSubReady)
    this.#sub.off('message', this.#onMessage)
    if (this.#sub.status === 'ready') await this.#sub.unsubscribe(this.#keys.channel).catch(() => undefined)
  }

  /** One compare-and-set of `next`; throws VERSION_MISMATCH or STORE_UNAVAILABLE when refused. */
  async #commitOnce(next: State, json: string, entryJson: string): Promise<void> {
    const expected = next.version - 1
    let reply = await this.#scripts.commit(expected, json, entryJson, this.#historyLimit, await this.#deadline())
    if (reply.kind === 'mismatch' && reply.current === null) {
      // Redis lost its data since this instance last looked: put back
      // what we hold, then try once more against that.
      const local = this.#localNewest()
      if (local !== null) {
        await this.#writeBack(local, 'empty', null)
        reply = await this.#scripts.commit(expected, json, entryJson, this.#historyLimit, await this.#deadline())
      }
    }
    if (reply.kind === 'stored') {
      this.#note(next)
      return
    }
    if (reply.kind === 'late') {
      throw new SwitchyardError(
        'STORE_UNAVAILABLE',
        `redis ran the write ${reply.lateMs} ms after its deadline (the server stalled); it was refused and nothing changed`,
      )
    }
    if (reply.kind === 'corrupt') {
      throw new SwitchyardError(
        'STORE_UNAVAILABLE',
        `redis key ${this.#keys.state} does not hold a valid state; fix or delete it, it is never reset silently`,
      )
    }
    const current = reply.current === null ? null : this.#decode(reply.current, 'commit')
    // A caller with a stale If-Match gets no reload: hand the newer state
    // to the listeners so this instance catches up anyway.
    if (current !== null) this.#deliver(current)
    throw new SwitchyardError(
      'VERSION_MISMATCH',
      `cannot store version ${next.version}: the stored version is ${current === null ? 'none (empty store)' : current.version}`,
    )
  }

  /** Records `state` if newer; returns whether it was. */
  #note(state: State): boolean {
    if (this.#known !== null && state.version <= this.#known.version) return false
    this.#known = state
    return true
  }

  /** Hands a state read from Redis to the listeners, once, if it is news. */
  #deliver(state: State): void {
    if (!this.#note(state)) return
    for (const listener of this.#listeners) {
      try {
        listener(state)
      } catch (e) {
        this.#logger.error({ err: (e as Error).message, version: state.version }, 'state listener failed')
      }
    }
  }

  #decode(raw: string, what: string): State {
    const state = parseState(raw)
    if (state === null) {
      throw new SwitchyardError(
        'STORE_UNAVAILABLE',
        `redis key ${this.#keys.state} (${what}) does not hold a valid state; fix or delete it, it is never reset silently`,
      )
    }
    return state
  }

  /** Connects both clients once and starts the periodic resync. */
  #open(): void {
    if (this.#opened || this.#closed) return
    this.#opened = true
    this.#client.on('ready', this.#onClientReady)
    this.#sub.on('ready', this.#onSubReady)
    this.#sub.on('message', this.#onMessage)
    if (this.#sub.status === 'wait') this.#sub.connect().catch(() => undefined)
    // Queued in the subscriber's offline queue until it connects; ioredis
    // subscribes again by itself after every reconnect.
    this.#sub.subscribe(this.#keys.channel).catch(() => undefined)
    this.#timer = setInterval(() => void this.#resync('timer'), this.#resyncIntervalMs)
    this.#timer.unref()
  }

  readonly #onClientReady = (): void => {
    this.#silent = false
    void this.#resync('reconnect')
  }

  readonly #onSubReady = (): void => {
    void this.#resync('subscriber reconnect')
  }

  readonly #onMessage = (channel: string, message: string): void => {
    if (channel !== this.#keys.channel || this.#inflight.has(message)) return
    const state = parseState(message)
    if (state === null) {
      this.#logger.warn({ channel }, 'ignored a message that is not a valid state')
      return
    }
    this.#deliver(state)
  }

  async #ready(): Promise<void> {
    if (this.#closed) throw new SwitchyardError('STORE_UNAVAILABLE', 'the redis store is closed')
    this.#open()
    await whenReady(this.#client, this.#connectTimeoutMs, this.#where)
  }

  /** The newest of what this instance routes by and what it has seen. */
  #localNewest(): State | null {
    const local = this.#opts.getLocalState?.() ?? null
    const known = this.#known
    if (local === null) return known
    if (known === null) return local
    return local.version >= known.version ? local : known
  }

  /**
   * Writes `state` back when Redis lost it (mode 'empty') or went back to
   * an older version (mode 'older'); whatever is stored afterwards is
   * delivered, so instances that are behind catch up either way.
   */
  async #writeBack(state: State, mode: 'empty' | 'older', stored: number | null): Promise<void> {
    const reply = await this.#scripts.restore(JSON.stringify(state), state.version, mode)
    if (reply.stored) {
      this.#note(state)
      this.#logger.warn(
        { instance: this.#opts.instanceId, version: state.version, live: state.live, storedVersion: stored },
        mode === 'empty'
          ? 'redis had no state (restarted without persistence?); wrote back the state this instance holds; earlier history is lost'
          : 'redis held an older state (restored from an old snapshot or a lagging replica?); wrote back the newer state this instance holds',
      )
      return
    }
    this.#deliver(this.#decode(reply.current, 'write-back'))
  }

  /** Runs one Redis call, tracking whether the server answers at all. */
  async #watched<T>(p: Promise<T>): Promise<T> {
    try {
      const v = await p
      this.#silent = false
      return v
    } catch (e) {
      if (/timed out/i.test((e as Error).message)) this.#silent = true
      throw e
    }
  }

  /**
   * The commit deadline on Redis' clock: now plus the budget, through the
   * measured offset (clocks of two hosts differ; one TIME round trip, with
   * its half taken as the delay, keeps the error to about half an RTT).
   */
  async #deadline(): Promise<number> {
    if (this.#offsetMs === null) await this.#measureOffset()
    return Date.now() + (this.#offsetMs as number) + this.#commitBudgetMs
  }

  async #measureOffset(): Promise<void> {
    const before = Date.now()
    const [s, us] = await this.#watched(this.#client.time())
    const after = Date.now()
    this.#offsetMs = Number(s) * 1000 + Math.floor(Number(us) / 1000) - (before + after) / 2
  }

  async #resyncOnce(): Promise<void> {
    if (this.#client.status !== 'ready') return
    // Re-measured on every resync: either clock may have been stepped.
    await this.#measureOffset()
    const raw = await this.#watched(this.#client.get(this.#keys.state))
    const local = this.#localNewest()
    if (raw === null) {
      if (local !== null) await this.#writeBack(local, 'empty', null)
      return
    }
    const stored = this.#decode(raw, 'resync')
    this.#deliver(stored)
    if (local !== null && stored.version < local.version) await this.#writeBack(local, 'older', stored.version)
  }

  /** Re-reads the state; overlapping calls fold into one extra pass. */
  #resync(reason: string): Promise<void> {
    if (this.#closed) return Promise.resolve()
    if (this.#resyncing !== null) {
      this.#resyncAgain = true
      return this.#resyncing
    }
    this.#resyncing = (async () => {
      try {
        do {
          this.#resyncAgain = false
          await this.#resyncOnce()
        } while (this.#resyncAgain && !this.#closed)
      } catch (e) {
        // The connection watcher already reports outages; this is for the rest.
        if (this.#client.status === 'ready') this.#logger.warn({ reason, err: (e as Error).message }, 'redis resync failed')
      } finally {
        this.#resyncing = null
      }
    })()
    return this.#resyncing
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    await this.#ready()
    try {
      return await this.#watched(fn())
    } catch (e) {
      throw toStoreError(e, `${this.#where} ${what}`)
    }
  }
}

/** A {@link RedisStore} as a plain object of its methods (see {@link spreadableStore}); what other modules call. */
export function createRedisStore(opts: RedisStoreOptions): StateStore {
  return spreadableStore(new RedisStore(opts))
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
