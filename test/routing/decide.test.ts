import t from 'tap'
import {
  BUCKETS,
  CANARY_SEED,
  bucketOf,
  compile,
  decide,
  explain,
  initialState,
  other,
  resolveTarget,
  stickinessKey,
  type Cohort,
  type RequestFacts,
  type RoutingOptions,
  type State,
} from '../../src/routing/index.js'

const AT = '2026-01-01T00:00:00.000Z'
const plain: RoutingOptions = { stickiness: { header: null, cookie: null }, overrides: { enabled: false, secret: null } }

function state(over: Partial<State> = {}): State {
  return { ...initialState('blue', AT), ...over }
}

function facts(over: Partial<RequestFacts> = {}): RequestFacts {
  return { preview: false, headers: {}, cookies: null, key: undefined, ...over }
}

t.test('precedence: preview > override > cohort > canary > live', async (t) => {
  const opts: RoutingOptions = { ...plain, overrides: { enabled: true, secret: null } }
  const cohorts: Cohort[] = [{ name: 'staff', color: 'green', match: { headers: { 'X-Staff': '1' } } }]
  const table = compile(state({ canary: 100, cohorts }), opts)
  const staffHeaders = { 'x-staff': '1' }
  const rows: [string, RequestFacts, string, string][] = [
    [
      'preview wins over everything',
      facts({ preview: true, headers: { ...staffHeaders, 'x-switchyard-color': 'blue' } }),
      'green',
      'preview',
    ],
    ['override wins over cohort', facts({ headers: { ...staffHeaders, 'x-switchyard-color': 'blue' } }), 'blue', 'override'],
    ['cohort wins over canary', facts({ headers: staffHeaders, key: 'u1' }), 'green', 'cohort'],
    ['canary at 100% takes the rest', facts({ key: 'u1' }), 'green', 'canary'],
  ]
  for (const [name, f, color, rule] of rows) {
    const d = decide(table, f)
    t.same([d.color, d.rule], [color, rule], name)
  }
  const live = compile(state(), opts)
  t.same(decide(live, facts({ key: 'u1' })), { color: 'blue', rule: 'live', cohort: null }, 'otherwise live')
})

t.test('override by header or cookie, with and without a secret', async (t) => {
  const open = compile(state(), { ...plain, overrides: { enabled: true, secret: null } })
  t.equal(decide(open, facts({ headers: { 'x-switchyard-color': 'green' } })).color, 'green')
  t.equal(decide(open, facts({ headers: { 'x-switchyard-color': ['green', 'blue'] } })).color, 'green', 'first of repeated header')
  t.equal(decide(open, facts({ cookies: { 'switchyard-color': 'green' } })).rule, 'override')
  t.equal(decide(open, facts({ headers: { 'x-switchyard-color': 'purple' } })).rule, 'live', 'unknown color ignored')
  t.equal(decide(open, facts({ cookies: { other: 'x' } })).rule, 'live', 'no override cookie')

  const closed = compile(state(), { ...plain, overrides: { enabled: false, secret: null } })
  t.equal(decide(closed, facts({ headers: { 'x-switchyard-color': 'green' } })).rule, 'live', 'disabled → ignored')

  const secret = compile(state(), { ...plain, overrides: { enabled: true, secret: 's3cret-value' } })
  const ask = (h: Record<string, string>) => decide(secret, facts({ headers: { 'x-switchyard-color': 'green', ...h } })).rule
  t.equal(ask({}), 'live', 'no secret → ignored')
  t.equal(ask({ 'x-switchyard-override-secret': 'wrong' }), 'live', 'short wrong secret → ignored')
  t.equal(ask({ 'x-switchyard-override-secret': 's3cret-valuX' }), 'live', 'same-length wrong secret → ignored')
  t.equal(ask({ 'x-switchyard-override-secret': 's3cret-value' }), 'override', 'right secret → honoured')
  const emptySecret = compile(state(), { ...plain, overrides: { enabled: true, secret: '' } })
  t.equal(emptySecret.overrideSecret, null, 'an empty secret means none')
})

t.test('cohorts: matching rules, order, and idle/live following a flip', async (t) => {
  const cohorts: Cohort[] = [
    { name: 'beta', color: 'idle', match: { cookies: { beta: 'yes' } } },
    { name: 'vip', color: 'live', match: { users: ['alice', 'bob'] } },
    { name: 'both', color: 'green', match: { headers: { 'x-team': 'core' }, users: ['carol'] } },
    { name: 'tenth', color: 'blue', match: { percent: 10 } },
  ]
  const blueLive = compile(state({ cohorts }), plain)
  const greenLive = compile(state({ live: 'green', cohorts }), plain)
  t.equal(decide(blueLive, facts({ cookies: { beta: 'yes' } })).color, 'green', 'idle while blue live')
  t.equal(decide(greenLive, facts({ cookies: { beta: 'yes' } })).color, 'blue', 'idle follows the flip')
  t.equal(decide(blueLive, facts({ key: 'alice' })).color, 'blue', 'live while blue live')
  t.equal(decide(greenLive, facts({ key: 'alice' })).color, 'green', 'live follows the flip')
  t.equal(decide(blueLive, facts({ key: 'alice' })).cohort, 'vip')
  t.equal(decide(blueLive, facts({ cookies: { beta: 'no' } })).cohort, null, 'cookie value must match')
  t.equal(decide(blueLive, facts({ cookies: null })).cohort, null, 'no cookies, no cookie cohort')
  t.equal(decide(blueLive, facts({ headers: { 'x-team': 'core' }, key: 'carol' })).cohort, 'both', 'all conditions hold')
  t.equal(decide(blueLive, facts({ headers: { 'x-team': 'core' }, key: 'dave' })).cohort === 'both', false, 'AND: user missing')
  t.equal(decide(blueLive, facts({ headers: { 'x-team': 'edge' }, key: 'carol' })).cohort === 'both', false, 'AND: header differs')
  t.equal(decide(blueLive, facts({ headers: { 'x-team': 'core' } })).cohort, null, 'users need a key')

  // percent cohort: exactly the users whose cohort bucket is below 10%
  const tenth = blueLive.cohorts[3]
  let inCohort = 0
  for (let i = 0; i < 2000; i++) {
    const key = `k${i}`
    const d = decide(blueLive, facts({ key }))
    const expected = bucketOf(key, tenth.seed) < 1000
    t.equal(d.cohort === 'tenth', expected)
    if (expected) inCohort++
  }
  t.ok(inCohort > 100 && inCohort < 300, `about 10% in the percent cohort (${inCohort})`)
  t.equal(resolveTarget('green', 'blue'), 'green')
  t.equal(other('green'), 'blue')
})

t.test('a 100,000-user cohort is a Set lookup', async (t) => {
  const users = Array.from({ length: 100_000 }, (_, i) => `user-${i}`)
  const table = compile(state({ cohorts: [{ name: 'big', color: 'green', match: { users } }] }), plain)
  t.equal(table.cohorts[0].users?.size, 100_000)
  t.equal(decide(table, facts({ key: 'user-99999' })).cohort, 'big')
  t.equal(decide(table, facts({ key: 'user-100000' })).cohort, null)
})

t.test('canary: 0% and 100% exact, monotonic when the percent moves', async (t) => {
  const keys = Array.from({ length: 5000 }, (_, i) => `id-${i}`)
  const at = (p: number) => {
    const table = compile(state({ canary: p }), plain)
    return new Set(keys.filter((key) => decide(table, facts({ key })).color === 'green'))
  }
  t.equal(at(0).size, 0, '0% sends nobody to idle')
  t.equal(at(100).size, keys.length, '100% sends everybody to idle')
  t.equal(decide(compile(state({ canary: 100 }), plain), facts()).color, 'green', '100% even without a key')
  t.equal(decide(compile(state({ canary: 50 }), plain), facts()).color, 'blue', 'no key below 100% → live')
  const steps = [1, 5, 5.5, 10, 25, 50, 99.99, 100]
  let prev = at(0)
  for (const p of steps) {
    const cur = at(p)
    t.ok(
      [...prev].every((k) => cur.has(k)),
      `raising to ${p}% moves nobody back to live`,
    )
    prev = cur
  }
  for (const p of [...steps].reverse().slice(1).concat([0])) {
    const cur = at(p)
    t.ok(
      [...cur].every((k) => prev.has(k)),
      `lowering to ${p}% moves nobody from live to idle`,
    )
    prev = cur
  }
})

t.test('distribution: 10,000 users land close to the percent', async (t) => {
  const count = (p: number) => {
    const table = compile(state({ canary: p }), plain)
    let idle = 0
    for (let i = 0; i < 10_000; i++) if (decide(table, facts({ key: `customer-${i}@example.com` })).rule === 'canary') idle++
    return (idle / 10_000) * 100
  }
  const ten = count(10)
  t.ok(ten >= 9 && ten <= 11, `10% → ${ten.toFixed(2)}%`)
  const half = count(0.5)
  t.ok(half >= 0.25 && half <= 0.75, `0.5% → ${half.toFixed(2)}%`)
})

t.test('stickiness key: user header, then user cookie, then switchyard-id', async (t) => {
  const table = compile(state({ canary: 10 }), { ...plain, stickiness: { header: 'X-User-Id', cookie: 'session' } })
  t.equal(table.stickinessHeader, 'x-user-id', 'header name lower-cased once')
  const cookies = { session: 's-1', 'switchyard-id': 'sy-1' }
  t.equal(stickinessKey(table, { 'x-user-id': 'u-1' }, cookies), 'u-1')
  t.equal(stickinessKey(table, { 'x-user-id': ['u-2', 'u-3'] }, null), 'u-2')
  t.equal(stickinessKey(table, { 'x-user-id': '' }, cookies), 's-1', 'empty header does not count')
  t.equal(stickinessKey(table, {}, { 'switchyard-id': 'sy-1', session: '' }), 'sy-1')
  t.equal(stickinessKey(table, {}, {}), undefined)
  t.equal(stickinessKey(table, {}, null), undefined)
  const bare = compile(state(), plain)
  t.equal(stickinessKey(bare, { 'x-user-id': 'u-1' }, { 'switchyard-id': 'sy-2' }), 'sy-2', 'only the own cookie without config')
  t.equal(stickinessKey(bare, {}, { 'switchyard-id': '' }), undefined)
})

t.test('compile flags what a request must read', async (t) => {
  t.same([compile(state(), plain).needsKey, compile(state(), plain).needsCookies], [false, false])
  t.same([compile(state({ canary: 5 }), plain).needsKey, compile(state({ canary: 5 }), plain).needsCookies], [true, true])
  const withCookieCohort = compile(state({ cohorts: [{ name: 'c', color: 'green', match: { cookies: { a: 'b' } } }] }), plain)
  t.same([withCookieCohort.needsKey, withCookieCohort.needsCookies], [false, true])
  const withHeaderCohort = compile(state({ cohorts: [{ name: 'h', color: 'green', match: { headers: { a: 'b' } } }] }), plain)
  t.same([withHeaderCohort.needsKey, withHeaderCohort.needsCookies], [false, false])
  t.equal(compile(state(), { ...plain, overrides: { enabled: true, secret: null } }).needsCookies, true)
  t.equal(compile(state(), { ...plain, stickiness: { header: null, cookie: 'sid' } }).needsCookies, true)
  const table = compile(state({ canary: 12.34 }), plain)
  t.equal(table.canaryBp, 1234)
  t.ok(Object.isFrozen(table) && Object.isFrozen(table.decisions.live), 'the table is frozen')
})

t.test('explain tells the rule and the canary bucket', async (t) => {
  const table = compile(state({ canary: 30 }), plain)
  const e = explain(table, facts({ key: 'someone' }))
  t.equal(e.bucket, bucketOf('someone', CANARY_SEED))
  t.equal(e.rule, e.bucket! < 3000 ? 'canary' : 'live')
  t.equal(e.key, 'someone')
  const none = explain(table, facts())
  t.same([none.bucket, none.key, none.rule], [null, null, 'live'])
  t.ok(e.bucket! >= 0 && e.bucket! < BUCKETS)
})
