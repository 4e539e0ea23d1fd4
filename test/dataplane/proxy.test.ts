import http from 'node:http'
import t from 'tap'
import { request, setCookies } from '../helpers/request.js'
import { LIMITS, setup } from '../helpers/dataplane.js'
import { eventually } from '../helpers/wait.js'

t.test('routes to live and marks the color on both sides', async (t) => {
  const s = await setup(t)
  const r = await request(`${s.url}/hello?x=1`)
  t.equal(r.status, 200)
  t.equal(r.json().color, 'blue')
  t.equal(r.json().url, '/hello?x=1')
  t.equal(r.headers['x-switchyard-color'], 'blue', 'color on the response')
  t.equal(r.json().headers['x-switchyard-color'], 'blue', 'color on the upstream request')
  t.same(setCookies(r), [], 'no id cookie without a canary')

  s.setState({ live: 'green', version: 2 })
  const r2 = await request(`${s.url}/`)
  t.equal(r2.json().color, 'green')
  t.equal(r2.headers['x-switchyard-color'], 'green')
})

t.test('a swap changes the next request while an in-flight one finishes on the old color', async (t) => {
  const s = await setup(t)
  const slow = request(`${s.url}/hold/a`)
  await s.blue.held('a')
  s.setState({ live: 'green', version: 2 })
  const next = await request(`${s.url}/after`)
  t.equal(next.json().color, 'green', 'the next request sees the new table')
  s.blue.release('a')
  const r = await slow
  t.equal(r.status, 200)
  t.equal(r.json().color, 'blue', 'the in-flight request finishes on the old color')
  t.equal(r.headers['x-switchyard-color'], 'blue')
})

t.test('hop-by-hop headers are dropped and x-forwarded-* set', async (t) => {
  const s = await setup(t)
  const r = await request(`${s.url}/h`, {
    headers: {
      host: 'shop.example',
      connection: 'keep-alive, x-private',
      'keep-alive': 'timeout=5',
      'x-private': 'secret-hop',
      te: 'trailers',
      'proxy-authorization': 'Basic abc',
      'x-forwarded-for': '10.0.0.1',
      'x-switchyard-cohort': 'forged',
      'x-switchyard-override-secret': 'nope',
      'x-keep': 'yes',
    },
  })
  const h = r.json().headers
  for (const name of ['keep-alive', 'x-private', 'te', 'proxy-authorization', 'x-switchyard-cohort', 'x-switchyard-override-secret']) {
    t.equal(h[name], undefined, `${name} is not forwarded`)
  }
  t.not(h.connection, 'keep-alive, x-private', 'the client Connection header is not forwarded')
  t.equal(h['x-keep'], 'yes', 'end-to-end headers are forwarded')
  t.equal(h.host, 'shop.example', 'Host is kept')
  t.equal(h['x-forwarded-for'], '10.0.0.1, 127.0.0.1', 'client appended to x-forwarded-for')
  t.equal(h['x-forwarded-proto'], 'http')
  t.equal(h['x-forwarded-host'], 'shop.example')
  t.equal(r.headers.connection === undefined || r.headers.connection === 'keep-alive' || r.headers.connection === 'close', true)
})

t.test('x-forwarded-proto and -host from a load balancer in front are kept', async (t) => {
  const s = await setup(t)
  const r = await request(`${s.url}/`, { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'lb.example' } })
  const h = r.json().headers
  t.equal(h['x-forwarded-proto'], 'https')
  t.equal(h['x-forwarded-host'], 'lb.example')
  t.equal(h['x-forwarded-for'], '127.0.0.1')
})

t.test('trustForwarded false: client-sent x-forwarded-* are replaced, the chain starts at the client', async (t) => {
  const s = await setup(t, { dp: { trustForwarded: false } })
  const r = await request(`${s.url}/`, {
    headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'forged.example', 'x-forwarded-for': '6.6.6.6', host: 'shop.example' },
  })
  const h = r.json().headers
  t.equal(h['x-forwarded-proto'], 'http')
  t.equal(h['x-forwarded-host'], 'shop.example')
  t.equal(h['x-forwarded-for'], '127.0.0.1')
})

t.test('exposeColor false hides the color from the response, not from the upstream', async (t) => {
  const s = await setup(t, { dp: { exposeColor: false } })
  const r = await request(`${s.url}/`)
  t.equal(r.status, 200)
  t.equal(r.headers['x-switchyard-color'], undefined)
  t.equal(r.json().headers['x-switchyard-color'], 'blue')
  t.equal(r.json().color, 'blue')
})

t.test('upstream status codes and Set-Cookie headers pass through', async (t) => {
  const s = await setup(t, { state: { canary: 50 } })
  const r = await request(`${s.url}/set-cookie`)
  const cookies = setCookies(r)
  t.ok(cookies.includes('up=1; Path=/'), 'upstream cookie kept')
  t.ok(cookies.includes('up2=2; Path=/'), 'second upstream cookie kept')
  t.ok(
    cookies.some((c) => c.startsWith('switchyard-id=')),
    'id cookie appended',
  )
  t.equal(cookies.length, 3)
  const r2 = await request(`${s.url}/status/503`)
  t.equal(r2.status, 503)
  t.equal(r2.json().color, r2.headers['x-switchyard-color'], 'served by the color it says')
})

t.test('observer hears of each request once with its color and status', async (t) => {
  const s = await setup(t)
  await request(`${s.url}/a`)
  await request(`${s.url}/status/500`)
  s.setState({ live: 'green', version: 2 })
  await request(`${s.url}/status/404`)
  await s.recorder.until(3)
  t.same(
    s.recorder.calls.map((c) => [c.color, c.status, c.kind]),
    [
      ['blue', 200, null],
      ['blue', 500, null],
      ['green', 404, null],
    ],
  )
  t.ok(
    s.recorder.calls.every((c) => c.seconds >= 0),
    'durations are non-negative',
  )
  t.equal(s.dp.inFlight(), 0)
})

t.test('HEAD, 204 and absolute-form targets', async (t) => {
  const s = await setup(t)
  const head = await request(`${s.url}/x`, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(head.body.length, 0)
  const r204 = await request(`${s.url}/status/204`)
  t.equal(r204.status, 204)
  t.equal(r204.body.length, 0)
  const abs = await new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: new URL(s.url).port, path: 'http://elsewhere.example/x', agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
  t.equal(abs, 400, 'absolute-form request targets are refused')
  t.equal(s.blue.requests.length, 2, 'only HEAD and 204 reached the upstream')
})

t.test('access log: one entry per request with method, url, status, color, cohort, time and client', async (t) => {
  const entries: import('../../src/dataplane/index.js').AccessLogEntry[] = []
  const s = await setup(t, {
    dp: {
      accessLog: (e) => void entries.push(e),
      limits: { ...LIMITS, maxHeaderBytes: 16384, maxBodyBytes: 10, keepAliveTimeoutMs: 5000, connectionsPerTarget: 8 },
    },
    state: { cohorts: [{ name: 'staff', color: 'green', match: { headers: { 'x-staff': '1' } } }] },
  })
  t.equal((await request(`${s.url}/a?b=1`)).status, 200)
  t.equal((await request(`${s.url}/staff`, { headers: { 'x-staff': '1' } })).status, 200)
  t.equal((await request(`${s.url}/upload`, { method: 'POST', body: 'more than ten bytes' })).status, 413)
  await eventually(() => entries.length >= 3, 5000, 'three access log entries')
  t.match(entries, [
    { method: 'GET', url: '/a?b=1', status: 200, color: 'blue', cohort: null, ip: '127.0.0.1', kind: null },
    { method: 'GET', url: '/staff', status: 200, color: 'green', cohort: 'staff' },
    { method: 'POST', url: '/upload', status: 413, color: 'blue' },
  ])
  t.ok(
    entries.every((e) => typeof e.ms === 'number' && e.ms >= 0),
    'durations in ms',
  )
  t.ok(
    entries.every((e) => e.app === 'default'),
    'each entry names the app',
  )
})
