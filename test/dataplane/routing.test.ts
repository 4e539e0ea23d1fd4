import t from 'tap'
import { request, setCookies } from '../helpers/request.js'
import { setup } from '../helpers/dataplane.js'

const ID_COOKIE = /^switchyard-id=([^;]+); Path=\/; Max-Age=31536000; HttpOnly; SameSite=Lax$/

t.test('stickiness cookie issued during a canary and honoured afterwards', async (t) => {
  const s = await setup(t, { state: { canary: 50 } })
  const first = await request(`${s.url}/`)
  const cookies = setCookies(first)
  t.equal(cookies.length, 1)
  const m = ID_COOKIE.exec(cookies[0])
  t.ok(m, 'a well-formed id cookie')
  const id = (m as RegExpExecArray)[1]
  t.equal(id, 'id-1', 'made by the injected id generator')
  const color = first.headers['x-switchyard-color']
  for (let i = 0; i < 5; i++) {
    const again = await request(`${s.url}/`, { headers: { cookie: `other=1; switchyard-id=${id}` } })
    t.equal(again.headers['x-switchyard-color'], color, 'same color for the same id')
    t.same(setCookies(again), [], 'no new cookie')
  }
})

t.test('the canary splits ids between colors', async (t) => {
  const s = await setup(t, { state: { canary: 50 } })
  const colors = new Set<string>()
  for (let i = 0; i < 40; i++) {
    const r = await request(`${s.url}/`, { headers: { cookie: `switchyard-id=user-${i}` } })
    colors.add(r.json().color)
    t.equal(r.json().color, r.headers['x-switchyard-color'])
  }
  t.same([...colors].sort(), ['blue', 'green'], '40 users at 50% land on both colors')
})

t.test('100% canary sends everyone to idle; 0% issues no cookie', async (t) => {
  const s = await setup(t, { state: { canary: 100 } })
  t.equal((await request(`${s.url}/`)).json().color, 'green')
  s.setState({ canary: 0, version: 2 })
  const r = await request(`${s.url}/`)
  t.equal(r.json().color, 'blue')
  t.same(setCookies(r), [])
})

t.test('the configured user header is the stickiness key', async (t) => {
  const routing = { stickiness: { header: 'X-User-Id', cookie: null }, overrides: { enabled: false, secret: null } }
  const s = await setup(t, { routing, state: { canary: 50 } })
  const byUser = new Map<string, string>()
  for (let i = 0; i < 30; i++) {
    const r = await request(`${s.url}/`, { headers: { 'x-user-id': `u${i}` } })
    t.same(setCookies(r), [], 'no id cookie when the user header is there')
    byUser.set(`u${i}`, r.json().color)
  }
  t.same(new Set(byUser.values()).size, 2, 'users spread over both colors')
  for (const [user, color] of byUser) {
    const r = await request(`${s.url}/`, { headers: { 'x-user-id': user } })
    t.equal(r.json().color, color, `${user} stays on ${color}`)
  }
})

t.test('the configured user cookie is the stickiness key', async (t) => {
  const routing = { stickiness: { header: null, cookie: 'session' }, overrides: { enabled: false, secret: null } }
  const s = await setup(t, { routing, state: { canary: 50 } })
  const a = await request(`${s.url}/`, { headers: { cookie: 'session=abc' } })
  t.same(setCookies(a), [])
  const b = await request(`${s.url}/`, { headers: { cookie: 'session=abc' } })
  t.equal(a.json().color, b.json().color)
})

t.test('a cohort match sends x-switchyard-cohort upstream and a forged one is dropped', async (t) => {
  const s = await setup(t, {
    state: { cohorts: [{ name: 'beta', color: 'idle', match: { headers: { 'X-Beta': 'yes' } } }] },
  })
  const member = await request(`${s.url}/`, { headers: { 'x-beta': 'yes' } })
  t.equal(member.json().color, 'green')
  t.equal(member.json().headers['x-switchyard-cohort'], 'beta')
  const other = await request(`${s.url}/`, { headers: { 'x-switchyard-cohort': 'beta' } })
  t.equal(other.json().color, 'blue')
  t.equal(other.json().headers['x-switchyard-cohort'], undefined, 'client-sent cohort header not forwarded')
})

t.test('a 100,000-user cohort routes members and non-members', async (t) => {
  const users: string[] = []
  for (let i = 0; i < 100_000; i++) users.push(`member-${i}`)
  const routing = { stickiness: { header: 'x-user-id', cookie: null }, overrides: { enabled: false, secret: null } }
  const s = await setup(t, { routing, state: { cohorts: [{ name: 'staff', color: 'green', match: { users } }] } })
  for (const u of ['member-0', 'member-54321', 'member-99999']) {
    const r = await request(`${s.url}/`, { headers: { 'x-user-id': u } })
    t.equal(r.json().color, 'green', `${u} is a member`)
    t.equal(r.json().headers['x-switchyard-cohort'], 'staff')
  }
  for (const u of ['member-100000', 'stranger']) {
    const r = await request(`${s.url}/`, { headers: { 'x-user-id': u } })
    t.equal(r.json().color, 'blue', `${u} is not a member`)
    t.equal(r.json().headers['x-switchyard-cohort'], undefined)
  }
  // Without a key the router issues one (users cohorts need keys), and it is no member.
  const anon = await request(`${s.url}/`)
  t.equal(anon.json().color, 'blue')
  t.equal(setCookies(anon).length, 1)
})

t.test('override header without a secret configured', async (t) => {
  const routing = { stickiness: { header: null, cookie: null }, overrides: { enabled: true, secret: null } }
  const s = await setup(t, { routing })
  const r = await request(`${s.url}/`, { headers: { 'x-switchyard-color': 'green' } })
  t.equal(r.json().color, 'green')
  t.equal(r.json().headers['x-switchyard-color'], 'green')
  const c = await request(`${s.url}/`, { headers: { cookie: 'switchyard-color=green' } })
  t.equal(c.json().color, 'green', 'override cookie')
  const junk = await request(`${s.url}/`, { headers: { 'x-switchyard-color': 'purple' } })
  t.equal(junk.json().color, 'blue')
})

t.test('override header with a secret: honoured only with it, never forwarded', async (t) => {
  const routing = { stickiness: { header: null, cookie: null }, overrides: { enabled: true, secret: 's3cret' } }
  const s = await setup(t, { routing })
  const without = await request(`${s.url}/`, { headers: { 'x-switchyard-color': 'green' } })
  t.equal(without.json().color, 'blue', 'ignored without the secret')
  const wrong = await request(`${s.url}/`, { headers: { 'x-switchyard-color': 'green', 'x-switchyard-override-secret': 'nope' } })
  t.equal(wrong.json().color, 'blue', 'ignored with a wrong secret')
  const right = await request(`${s.url}/`, { headers: { 'x-switchyard-color': 'green', 'x-switchyard-override-secret': 's3cret' } })
  t.equal(right.json().color, 'green')
  t.equal(right.json().headers['x-switchyard-override-secret'], undefined, 'secret not forwarded')
  t.equal(right.json().headers['x-switchyard-color'], 'green', 'the decided color replaces the client header')
})

t.test('override disabled: the client color header is replaced by the decision', async (t) => {
  const s = await setup(t)
  const r = await request(`${s.url}/`, { headers: { 'x-switchyard-color': 'green' } })
  t.equal(r.json().color, 'blue')
  t.equal(r.json().headers['x-switchyard-color'], 'blue')
})

t.test('the preview listener sends everything to idle', async (t) => {
  const s = await setup(t, { preview: true, state: { canary: 30 } })
  for (let i = 0; i < 5; i++) {
    const r = await request(`${s.url}/`, { headers: { cookie: `switchyard-id=u${i}` } })
    t.equal(r.json().color, 'green')
  }
  const anon = await request(`${s.url}/`)
  t.same(setCookies(anon), [], 'preview issues no id cookie')
  s.setState({ live: 'green', version: 2 })
  t.equal((await request(`${s.url}/`)).json().color, 'blue', 'idle follows the flip')
  // The main listener of the same data plane still serves live.
  const main = await s.dp.listen('127.0.0.1', 0)
  t.equal((await request(`http://127.0.0.1:${main.port}/`)).json().color, 'green')
})

t.test('a table that needs no cookies does not parse them', async (t) => {
  const s = await setup(t)
  const r = await request(`${s.url}/`, { headers: { cookie: 'switchyard-id=x; ;;=;junk' } })
  t.equal(r.status, 200)
  t.equal(r.json().headers.cookie, 'switchyard-id=x; ;;=;junk', 'cookies are forwarded untouched')
})
