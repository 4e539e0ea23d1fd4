import type { Test } from 'tap'
import type { Config } from '../../src/config/index.js'
import { storeOpener } from '../../src/control/store/open.js'
import type { StateStore } from '../../src/control/store/types.js'
import { isSwitchyardError } from '../../src/errors.js'
import type { State } from '../../src/routing/index.js'
import { entryV, stateV } from '../helpers/state.js'

/**
 * The contract every {@link StateStore} keeps, written once and run against
 * each implementation (the file store, Redis), like hono's shared router
 * cases. A store's own file runs `storeContract(t, harness)` and keeps only
 * the cases that are about that store alone (atomic files, pub/sub, ...).
 */

/** One place where a store keeps its data: a file, a Redis key prefix. */
export interface StoreLocation {
  /** opens a store on this place (closed when the test ends); all handles share the data */
  open(o?: { historyLimit?: number }): StateStore
  /** writes `text` where the state is kept, behind the store's back */
  writeRawState(text: string): Promise<void>
  /** what is kept where the state is (null: nothing) */
  readRawState(): Promise<string | null>
  /** how many history entries the backing data itself holds (the cap applies there, not only on read) */
  storedHistoryLength(): Promise<number>
}

/** How the contract reaches one implementation. */
export interface StoreHarness {
  kind: 'file' | 'redis'
  /** a fresh, empty place, cleaned up when the test ends */
  location(t: Test): Promise<StoreLocation>
  /** a fresh `store` setting for {@link storeOpener} */
  storeConfig(t: Test): Promise<Pick<Config, 'store'>>
  /** opens a plain store where `config` keeps `app`'s state (via appFilePath / appRedisPrefix) */
  openAppDirectly(t: Test, config: Pick<Config, 'store'>, app: string): StateStore
}

const quiet = { info() {}, warn() {}, error() {} }

/** Runs the shared cases against `h` as subtests of `t`. */
export function storeContract(t: Test, h: StoreHarness): void {
  t.test(`${h.kind}: empty store loads null; initialize stores once`, async (t) => {
    const at = await h.location(t)
    const a = at.open()
    t.equal(a.kind, h.kind)
    t.equal(await a.load(), null)
    t.same(await a.history(10), [])
    t.same(await a.initialize(stateV(1, { live: 'green' })), stateV(1, { live: 'green' }))
    // A second initialize is a compare-and-set on emptiness: the stored state wins,
    // through the same handle and through another one.
    t.same(await a.initialize(stateV(1, { live: 'blue' })), stateV(1, { live: 'green' }))
    const b = at.open()
    t.same(await b.initialize(stateV(1, { live: 'blue' })), stateV(1, { live: 'green' }))
    t.same(await b.load(), stateV(1, { live: 'green' }))
    t.same(await a.history(10), [], 'initialize writes no history')
    t.equal(a.reachable(), true)
  })

  t.test(`${h.kind}: commit is compare-and-set on the version`, async (t) => {
    const at = await h.location(t)
    const a = at.open()
    await a.initialize(stateV(1))
    await a.commit(stateV(2, { canary: 10 }), entryV(2))
    for (const stale of [2, 4, 1]) {
      await t.rejects(a.commit(stateV(stale, { canary: 50 }), entryV(stale)), { code: 'VERSION_MISMATCH', status: 412 }, `version ${stale}`)
    }
    t.same(await a.load(), stateV(2, { canary: 10 }), 'refused commits changed nothing')
    t.same(
      (await a.history(10)).map((e) => e.version),
      [2],
    )
    // A commit on an empty store is refused too: there is nothing to follow.
    const empty = (await h.location(t)).open()
    await t.rejects(empty.commit(stateV(5), entryV(5)), { code: 'VERSION_MISMATCH' })
    t.equal(await empty.load(), null)
  })

  t.test(`${h.kind}: concurrent commits of the same version: exactly one wins`, async (t) => {
    const at = await h.location(t)
    const a = at.open()
    await a.initialize(stateV(1))
    for (let round = 0; round < 5; round++) {
      const v = round + 2
      const results = await Promise.allSettled(
        [1, 2, 3, 4, 5].map((i) => a.commit(stateV(v, { canary: i }), entryV(v, { actor: `w${i}` }))),
      )
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i + 1] : []))
      t.equal(won.length, 1, `round ${round}: one winner`)
      for (const r of results) {
        if (r.status === 'rejected')
          t.ok(isSwitchyardError(r.reason) && r.reason.code === 'VERSION_MISMATCH', 'losers get VERSION_MISMATCH')
      }
      const stored = (await a.load()) as State
      const [latest] = await a.history(1)
      t.equal(stored.version, v)
      // What is stored and what the history says belong to the same winner.
      t.equal(stored.canary, won[0])
      t.equal(latest.actor, `w${won[0]}`, 'the history entry is the winner’s')
    }
    t.equal((await a.history(100)).length, 5, 'one entry per round')
  })

  t.test(`${h.kind}: history is newest first and capped`, async (t) => {
    const at = await h.location(t)
    const a = at.open({ historyLimit: 3 })
    await a.initialize(stateV(1))
    for (let v = 2; v <= 7; v++) await a.commit(stateV(v), entryV(v))
    t.same(
      (await a.history(100)).map((e) => e.version),
      [7, 6, 5],
    )
    t.same(
      (await a.history(2)).map((e) => e.version),
      [7, 6],
    )
    t.same(await a.history(0), [])
    t.equal(await at.storedHistoryLength(), 3, 'the stored history itself is trimmed')
    t.throws(() => at.open({ historyLimit: 0 }), { code: 'CONFIG_INVALID' })
  })

  t.test(`${h.kind}: state and history persist across re-open`, async (t) => {
    const at = await h.location(t)
    const a = at.open()
    await a.initialize(stateV(1))
    await a.commit(stateV(2, { live: 'green', previous: 'blue' }), entryV(2, { action: 'flip' }))
    await a.commit(stateV(3, { live: 'green', previous: 'blue', canary: 5 }), entryV(3))
    await a.close()
    const b = at.open()
    t.same(await b.load(), stateV(3, { live: 'green', previous: 'blue', canary: 5 }))
    t.same(
      (await b.history(10)).map((e) => [e.version, e.action]),
      [
        [3, 'canary'],
        [2, 'flip'],
      ],
    )
    await b.commit(stateV(4), entryV(4))
    await t.rejects(b.commit(stateV(4), entryV(4)), { code: 'VERSION_MISMATCH' })
  })

  t.test(`${h.kind}: corrupt stored data is refused, never reset`, async (t) => {
    for (const bad of ['not json', '{"state": {"version": 3, "live": "gre', JSON.stringify({ version: 'x', live: 'blue' })]) {
      const at = await h.location(t)
      await at.writeRawState(bad)
      const a = at.open()
      const err = await a.load().then(
        () => null,
        (e: unknown) => e,
      )
      t.ok(isSwitchyardError(err) && err.code === 'STORE_UNAVAILABLE' && err.status === 503, `load refuses ${JSON.stringify(bad)}`)
      t.match((err as Error).message, /corrupt|does not hold a valid state/, 'the message says why')
      t.match((err as Error).message, /never reset silently/, 'and that nothing was reset')
      await t.rejects(a.initialize(stateV(1)), { code: 'STORE_UNAVAILABLE' }, 'initialize refused')
      await t.rejects(a.commit(stateV(4), entryV(4)), { code: 'STORE_UNAVAILABLE' }, 'commit refused')
      t.equal(await at.readRawState(), bad, 'the stored data is left as it was')
    }
  })

  t.test(`${h.kind}: apps opened by storeOpener never see each other's writes or history`, async (t) => {
    const config = await h.storeConfig(t)
    const opener = await storeOpener(config, { instanceId: 'contract', logger: quiet })
    t.equal(opener.kind, h.kind)
    const names = ['default', 'shop', 'blog'] as const
    const stores = names.map((app) => opener.open(app, () => null))
    const [def, shop, blog] = stores
    t.teardown(async () => {
      await Promise.all(stores.map((s) => s.close()))
      await opener.close()
    })
    await def.initialize(stateV(1))
    await shop.initialize(stateV(1, { live: 'green' }))
    t.equal(await blog.load(), null, 'blog is empty although two apps initialised')
    await blog.initialize(stateV(1, { canary: 7 }))
    await shop.commit(stateV(2, { live: 'green', canary: 20 }), entryV(2, { actor: 'shop' }))
    await shop.commit(stateV(3, { live: 'green', canary: 30 }), entryV(3, { actor: 'shop' }))
    // blog's versions are its own: version 2 follows its 1, not shop's 3.
    await blog.commit(stateV(2, { canary: 8 }), entryV(2, { actor: 'blog' }))
    await t.rejects(def.commit(stateV(4), entryV(4)), { code: 'VERSION_MISMATCH' }, 'default does not follow shop')

    t.same(await def.load(), stateV(1))
    t.same(await shop.load(), stateV(3, { live: 'green', canary: 30 }))
    t.same(await blog.load(), stateV(2, { canary: 8 }))
    t.same(await def.history(10), [])
    t.same(
      (await shop.history(10)).map((e) => [e.version, e.actor]),
      [
        [3, 'shop'],
        [2, 'shop'],
      ],
    )
    t.same(
      (await blog.history(10)).map((e) => [e.version, e.actor]),
      [[2, 'blog']],
    )

    // Each app's data is where appFilePath / appRedisPrefix say; `default` keeps the single-app place.
    for (const [app, want] of [
      ['default', 1],
      ['shop', 3],
      ['blog', 2],
    ] as const) {
      const direct = h.openAppDirectly(t, config, app)
      t.equal((await direct.load())?.version, want, `${app} read directly from its own place`)
      await direct.close()
    }
  })
}
