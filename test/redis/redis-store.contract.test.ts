import t from 'tap'
import { appRedisPrefix } from '../../src/control/store/open.js'
import { createRedisStore } from '../../src/control/store/redis-store.js'
import { storeContract, type StoreHarness } from '../store/contract.js'
import { rawClient, requireRedis, startRedis, testPrefix } from './helpers.js'

/** The shared store contract against Redis, on a private redis-server (its own cases: redis-store.test.ts). */
if (requireRedis(t)) {
  const redis = await startRedis(t)
  const raw = rawClient(t, redis.url)
  const harness: StoreHarness = {
    kind: 'redis',
    async location(t) {
      const prefix = testPrefix()
      return {
        open(o = {}) {
          const store = createRedisStore({ url: redis.url, prefix, instanceId: 'contract', ...o })
          t.teardown(() => store.close())
          return store
        },
        writeRawState: async (text) => void (await raw.set(`${prefix}:state`, text)),
        readRawState: () => raw.get(`${prefix}:state`),
        storedHistoryLength: () => raw.llen(`${prefix}:history`),
      }
    },
    async storeConfig() {
      return { store: { type: 'redis', url: redis.url, prefix: testPrefix() } }
    },
    openAppDirectly(_t, config, app) {
      if (config.store.type !== 'redis') throw new Error('not a redis store config')
      return createRedisStore({ url: redis.url, prefix: appRedisPrefix(config.store.prefix, app), instanceId: 'direct' })
    },
  }
  storeContract(t, harness)
}
