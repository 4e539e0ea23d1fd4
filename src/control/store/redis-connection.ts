import { Redis, type RedisOptions } from 'ioredis'
import { SwitchyardError, isSwitchyardError } from '../../errors.js'
import type { Log } from '../../observability/logger.js'

/**
 * How to reach Redis: a `redis://` or `rediss://` URL (TLS, password and db
 * come from it), optionally with Sentinel (`sentinels` + master `name`; the
 * URL then only contributes password, db and TLS).
 */
export interface RedisConnectionOptions {
  url: string
  sentinels?: { host: string; port: number }[]
  /** the Sentinel master name; required with `sentinels` */
  name?: string
  /** bound on establishing a connection (default 1000 ms) */
  connectTimeoutMs?: number
  /** bound on one command (default 1000 ms) */
  commandTimeoutMs?: number
  /** longest pause between reconnection attempts (default 1000 ms) */
  reconnectMaxDelayMs?: number
}

export type RedisRole = 'commands' | 'subscriber'

/**
 * ioredis options that make an outage fail fast instead of hanging:
 * - no offline queue: a command sent while disconnected rejects at once;
 * - `commandTimeout` bounds a command on a connection that went silent;
 * - `maxRetriesPerRequest: 0` rejects commands in flight when the
 *   connection drops, and `autoResendUnfulfilledCommands: false` makes sure
 *   they are not replayed later: a commit the caller was told failed must
 *   not happen behind its back after the reconnect;
 * - `retryStrategy` keeps reconnecting forever with capped backoff.
 *
 * The subscriber keeps an offline queue (it only ever sends SUBSCRIBE,
 * which must survive until the first connect) and has no command timeout.
 */
export function redisOptions(opts: RedisConnectionOptions, role: RedisRole): RedisOptions {
  const maxDelay = opts.reconnectMaxDelayMs ?? 1000
  const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times, 10), maxDelay)
  const common: RedisOptions = {
    lazyConnect: true,
    connectTimeout: opts.connectTimeoutMs ?? 1000,
    retryStrategy,
    enableReadyCheck: true,
    autoResendUnfulfilledCommands: false,
    connectionName: `switchyard-${role}`,
  }
  if (opts.sentinels !== undefined) {
    if (opts.name === undefined) {
      throw new SwitchyardError('CONFIG_INVALID', 'store.name (the Sentinel master name) is required with store.sentinels')
    }
    common.sentinels = opts.sentinels
    common.name = opts.name
    common.sentinelRetryStrategy = retryStrategy
  }
  if (role === 'subscriber') {
    return { ...common, enableOfflineQueue: true, maxRetriesPerRequest: null }
  }
  return {
    ...common,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: opts.commandTimeoutMs ?? 1000,
  }
}

/** A new, not yet connected ioredis client (`lazyConnect`). */
export function createRedisClient(opts: RedisConnectionOptions, role: RedisRole): Redis {
  return new Redis(opts.url, redisOptions(opts, role))
}

/** The URL without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return 'redis (unparseable url)'
  }
}

/**
 * How a connection is named in logs and errors: the URL without its
 * password, or with Sentinel the master name and the sentinels (the URL is
 * then a placeholder that only carries password, db and TLS). The address
 * actually connected to is logged beside it (see {@link watchConnection}).
 */
export function describeRedis(opts: Pick<RedisConnectionOptions, 'url' | 'sentinels' | 'name'>): string {
  if (opts.sentinels === undefined) return redactUrl(opts.url)
  const sentinels = opts.sentinels.map((s) => hostPort(s.host, s.port)).join(',')
  return `sentinel master ${opts.name ?? '(unnamed)'} via ${sentinels}`
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** Clients being closed on purpose: their last 'close' is no outage. */
const closing = new WeakSet<Redis>()

/**
 * Logs an outage once when it starts and once when it ends, instead of one
 * line per failed reconnection attempt (every 1 s for as long as it lasts).
 * Each line names `what` and the address last connected to (with Sentinel,
 * the master's, which can change with a failover). A close asked for with
 * {@link closeClient} is not logged. Attaching an `error` listener also keeps
 * ioredis from printing its "Unhandled error event" for each attempt.
 */
export function watchConnection(client: Redis, logger: Log, what: string): void {
  let down = false
  let failures = 0
  let address: string | undefined
  const wentDown = (reason: string): void => {
    if (closing.has(client)) return
    failures++
    if (down) return
    down = true
    logger.warn({ redis: what, address, reason }, 'redis unreachable; retrying in the background')
  }
  client.on('error', (e: Error) => wentDown(e.message))
  client.on('close', () => wentDown('connection closed'))
  client.on('connect', () => {
    const stream = client.stream as { remoteAddress?: string; remotePort?: number } | undefined
    if (stream?.remoteAddress !== undefined && stream.remotePort !== undefined) address = hostPort(stream.remoteAddress, stream.remotePort)
  })
  client.on('ready', () => {
    if (down) logger.info({ redis: what, address, failedAttempts: failures }, 'redis reachable again')
    down = false
    failures = 0
  })
}

/**
 * Resolves once `client` is ready. A client that was never connected is
 * connected and given `timeoutMs`; one in the middle of a handshake gets the
 * same bound; one that is down (waiting to reconnect) or closed fails at
 * once, so a write during an outage answers STORE_UNAVAILABLE immediately.
 */
export function whenReady(client: Redis, timeoutMs: number, what: string): Promise<void> {
  const status = client.status
  if (status === 'ready') return Promise.resolve()
  if (status === 'wait') client.connect().catch(() => undefined)
  else if (status !== 'connecting' && status !== 'connect') {
    return Promise.reject(new SwitchyardError('STORE_UNAVAILABLE', `redis ${what} is unreachable (${status})`))
  }
  return new Promise((resolve, reject) => {
    const done = (err: SwitchyardError | null): void => {
      clearTimeout(timer)
      client.off('ready', onReady)
      client.off('close', onClose)
      if (err === null) resolve()
      else reject(err)
    }
    const onReady = (): void => done(null)
    const onClose = (): void =>
      done(new SwitchyardError('STORE_UNAVAILABLE', `redis ${what} is unreachable (connection refused or closed)`))
    const timer = setTimeout(
      () => done(new SwitchyardError('STORE_UNAVAILABLE', `redis ${what} is unreachable (no connection within ${timeoutMs} ms)`)),
      timeoutMs,
    )
    client.on('ready', onReady)
    client.on('close', onClose)
  })
}

/** Maps any failure of a Redis call to STORE_UNAVAILABLE (keeps SwitchyardErrors). */
export function toStoreError(e: unknown, what: string): SwitchyardError {
  if (isSwitchyardError(e)) return e
  return new SwitchyardError('STORE_UNAVAILABLE', `redis ${what}: ${(e as Error).message}`)
}

/**
 * Closes a client without waiting on a dead server: QUIT when it is ready
 * (bounded by `timeoutMs`), then drop the socket. Not an outage for
 * {@link watchConnection}.
 */
export async function closeClient(client: Redis, timeoutMs = 1000): Promise<void> {
  closing.add(client)
  if (client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs)
    })
    // A silent server must not hold up shutdown; QUIT errors mean it is gone anyway.
    await Promise.race([
      client.quit().then(
        () => undefined,
        () => undefined,
      ),
      bound,
    ])
    clearTimeout(timer)
  }
  client.disconnect()
}
