import { basename, dirname, extname, join } from 'node:path'
import type { Config } from '../../config/index.js'
import { DEFAULT_APP } from '../../config/index.js'
import type { State } from '../../routing/index.js'
import { createFileStore } from './file-store.js'
import type { Log } from '../../observability/logger.js'
import type { StateStore } from './types.js'

/**
 * Where each app's state lives. The app `default` keeps the names a
 * single-app router used (a state stored by an earlier version loads
 * unchanged); every other app gets its own file or keys beside them:
 *
 * ```
 *   file  ./data/state.json        default   ./data/state.shop.json        app shop
 *   redis switchyard:state …       default   switchyard:app:shop:state …   app shop
 * ```
 * A write to one app never rewrites another's file or keys.
 */
export function appFilePath(path: string, app: string): string {
  if (app === DEFAULT_APP) return path
  const ext = extname(path)
  return join(dirname(path), `${basename(path, ext)}.${app}${ext === '' ? '.json' : ext}`)
}

/** The Redis key prefix of an app (see {@link appFilePath}). */
export function appRedisPrefix(prefix: string, app: string): string {
  return app === DEFAULT_APP ? prefix : `${prefix}:app:${app}`
}

export interface StoreOpener {
  readonly kind: 'file' | 'redis'
  /** opens the store of one app */
  open(app: string, getLocalState: () => State | null): StateStore
  /** closes what the opener shares between apps (Redis connections), after the apps' stores */
  close(): Promise<void>
  /** the shared command connection (Redis), for the instance registry */
  readonly redis: unknown
}

/**
 * Opens the stores of every app from one `store` setting. With Redis, all
 * apps share two connections (commands, subscriber) instead of two each:
 * sixty apps are two connections per instance, not 120. ioredis is loaded
 * only for the Redis store.
 */
export async function storeOpener(config: Pick<Config, 'store'>, o: { instanceId: string; logger: Log }): Promise<StoreOpener> {
  const s = config.store
  if (s.type === 'file') {
    return {
      kind: 'file',
      redis: null,
      open: (app) => createFileStore({ path: appFilePath(s.path, app), logger: o.logger }),
      close: async () => {},
    }
  }
  const [{ createRedisStore }, conn] = await Promise.all([import('./redis-store.js'), import('./redis-connection.js')])
  const options = { url: s.url, sentinels: s.sentinels, name: s.name }
  const client = conn.createRedisClient(options, 'commands')
  const sub = conn.createRedisClient(options, 'subscriber')
  const where = conn.describeRedis(options)
  conn.watchConnection(client, o.logger, where)
  conn.watchConnection(sub, o.logger, `${where} (subscriber)`)
  // One 'message' and 'ready' listener per app on the shared clients.
  client.setMaxListeners(0)
  sub.setMaxListeners(0)
  return {
    kind: 'redis',
    redis: client,
    open: (app, getLocalState) =>
      createRedisStore({
        ...options,
        prefix: appRedisPrefix(s.prefix, app),
        instanceId: o.instanceId,
        logger: o.logger,
        getLocalState,
        shared: { client, sub },
      }),
    close: async () => {
      await Promise.all([conn.closeClient(client), conn.closeClient(sub)])
    },
  }
}
