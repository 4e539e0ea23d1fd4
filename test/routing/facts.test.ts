import t from 'tap'
import { compile, fillFacts, initialState, type RequestFacts, type RoutingOptions } from '../../src/routing/index.js'

const AT = '2026-01-01T00:00:00.000Z'
const byCookie: RoutingOptions = { stickiness: { header: null, cookie: 'session' }, overrides: { enabled: false, secret: null } }
const plain: RoutingOptions = { stickiness: { header: 'x-user-id', cookie: null }, overrides: { enabled: false, secret: null } }
const blank = (): RequestFacts => ({ preview: false, headers: {}, cookies: null, key: undefined })

t.test('the key from the stickiness cookie: plain, quoted and percent-encoded agree', async (t) => {
  const table = compile({ ...initialState('blue', AT), canary: 10 }, byCookie)
  for (const cookie of [
    'session=user-1',
    'session="user-1"',
    'session=user%2D1',
    ' session = user-1 ; other=x',
    'session=user-1; session=user-2',
  ]) {
    const f = fillFacts(blank(), table, { cookie }, false)
    t.equal(f.key, 'user-1', cookie)
  }
})

t.test('explicit cookies win over the header; cookies unread when no rule needs them', async (t) => {
  const table = compile({ ...initialState('blue', AT), canary: 10 }, byCookie)
  t.equal(fillFacts(blank(), table, { cookie: 'session=a' }, false, { session: 'b' }).key, 'b')
  t.equal(
    fillFacts(blank(), compile(initialState('blue', AT), plain), {}, false, { 'switchyard-id': 'k' }).key,
    'k',
    'given cookies are used even when no rule reads them',
  )
  const quiet = compile(initialState('blue', AT), plain)
  const f = fillFacts(blank(), quiet, { cookie: 'session=a', 'x-user-id': 'u9' }, true)
  t.equal(f.cookies, null)
  t.equal(f.key, 'u9')
  t.equal(f.preview, true)
  const arr = fillFacts(blank(), table, { cookie: ['session=a'] }, false)
  t.equal(arr.key, undefined, 'a non-string Cookie header is no cookie')
})
