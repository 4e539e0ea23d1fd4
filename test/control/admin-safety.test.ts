import t, { type Test } from 'tap'
import { connect, type Socket } from 'node:net'
import { adminFixture } from './helpers.js'

const TOKEN = 'a-very-secret-token-0123456789'
const json = { 'content-type': 'application/json' }

t.test('writes need Content-Type: application/json (415), body or not', async (t) => {
  const { app, service } = await adminFixture(t)
  const cases: [string, string, Record<string, string>, string | undefined][] = [
    // What a cross-site `fetch(url, {method: 'POST', mode: 'no-cors', body})` sends: no preflight.
    ['POST', '/v1/flip', { 'content-type': 'text/plain;charset=UTF-8' }, '{"force":true}'],
    ['POST', '/v1/flip', { 'content-type': 'application/x-www-form-urlencoded' }, 'force=true'],
    ['POST', '/v1/rollback', { 'content-type': 'multipart/form-data; boundary=x' }, '--x--'],
    ['POST', '/v1/flip', {}, undefined],
    ['PUT', '/v1/canary', {}, undefined],
    ['DELETE', '/v1/cohorts/beta', {}, undefined],
  ]
  for (const [method, url, headers, payload] of cases) {
    const res = await app.inject({ method: method as 'POST', url, headers, payload })
    t.equal(res.statusCode, 415, `${method} ${url} ${headers['content-type'] ?? '(none)'}: 415`)
    t.same(res.json(), { error: { code: 'BAD_REQUEST', message: `${method} needs Content-Type: application/json (also without a body)` } })
  }
  t.equal(service.state.version, 1, 'nothing changed')
  const ok = await app.inject({
    method: 'POST',
    url: '/v1/flip',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    payload: '{"force":true}',
  })
  t.equal(ok.statusCode, 200, 'application/json with a charset is fine')
  const empty = await app.inject({ method: 'POST', url: '/v1/rollback', headers: json })
  t.equal(empty.statusCode, 200, 'an empty JSON write means "no options"')
  t.equal((await app.inject('/v1/state')).statusCode, 200, 'reads need no Content-Type')
})

t.test("an Origin other than the listener's own is refused (403 FORBIDDEN_ORIGIN)", async (t) => {
  const { app, service } = await adminFixture(t)
  for (const origin of ['https://evil.example', 'null', 'http://localhost:8080', 'http://127.0.0.1:9901']) {
    for (const [method, url] of [
      ['GET', '/v1/state'],
      ['POST', '/v1/flip'],
    ] as const) {
      const res = await app.inject({
        method,
        url,
        headers: { host: 'localhost:9901', origin, ...(method === 'POST' ? json : {}) },
        payload: method === 'POST' ? { force: true } : undefined,
      })
      t.equal(res.statusCode, 403, `${method} from ${origin}: 403`)
      t.equal(res.json().error.code, 'FORBIDDEN_ORIGIN')
      t.match(res.json().error.message, origin)
    }
  }
  t.equal(service.state.version, 1, 'nothing changed')
  for (const origin of ['http://localhost:9901', 'http://LOCALHOST:9901', 'https://localhost:9901']) {
    const own = await app.inject({ method: 'POST', url: '/v1/flip', headers: { host: 'localhost:9901', origin, ...json }, payload: {} })
    t.equal(own.statusCode, 200, `the listener's own origin ${origin} is fine (its dashboard)`)
  }
})

t.test('on a loopback listener, a Host that is not loopback is refused (DNS rebinding)', async (t) => {
  const { app, service } = await adminFixture(t)
  for (const host of [
    'evil.example',
    'evil.example:9901',
    '10.0.0.5:9901',
    'localhost.evil.example',
    '127.0.0.1.nip.io:9901',
    '[::2]:9901',
  ]) {
    // A rebound page is "same origin": its Origin matches its Host.
    const res = await app.inject({
      method: 'POST',
      url: '/v1/flip',
      headers: { host, origin: `http://${host}`, ...json },
      payload: { force: true },
    })
    t.equal(res.statusCode, 403, `Host ${host}: 403`)
    t.equal(res.json().error.code, 'FORBIDDEN_ORIGIN')
    t.match(res.json().error.message, /loopback/)
    const read = await app.inject({ url: '/v1/state', headers: { host } })
    t.equal(read.statusCode, 403, `Host ${host}: reads refused too`)
  }
  t.equal(service.state.version, 1)
  for (const host of ['localhost', 'localhost:9901', '127.0.0.1:9901', '127.1.2.3', '[::1]:9901', 'admin.localhost:9901']) {
    t.equal((await app.inject({ url: '/v1/state', headers: { host } })).statusCode, 200, `Host ${host}: fine`)
  }
})

t.test('a listener that is not on loopback does not check Host (the token guards it)', async (t) => {
  const { app } = await adminFixture(t, { token: TOKEN, adminHost: '0.0.0.0' })
  const res = await app.inject({ url: '/v1/state', headers: { host: 'router.internal:9901', authorization: `Bearer ${TOKEN}` } })
  t.equal(res.statusCode, 200)
  const cross = await app.inject({
    url: '/v1/state',
    headers: { host: 'router.internal:9901', origin: 'https://evil.example', authorization: `Bearer ${TOKEN}` },
  })
  t.equal(cross.statusCode, 403, 'but a foreign Origin still is refused')
})

t.test('history: a limit out of range is refused, not clamped', async (t) => {
  const { app } = await adminFixture(t)
  for (const limit of ['99999', '10001', '0']) {
    const res = await app.inject(`/v1/history?limit=${limit}`)
    t.equal(res.statusCode, 400, `limit=${limit}`)
    t.same(res.json(), { error: { code: 'BAD_REQUEST', message: `querystring/limit must be from 1 to 10000, got ${limit}` } })
  }
  t.equal((await app.inject('/v1/history?limit=10000')).statusCode, 200)
})

/** Opens a raw connection to `port`; resolves when connected. */
function rawSocket(t: Test, port: number): Promise<{ socket: Socket; data: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    socket.setEncoding('utf8').on('data', (d: string) => (data += d))
    const closed = new Promise<void>((r) => socket.once('close', () => r()))
    socket.once('error', () => {})
    t.teardown(() => void socket.destroy())
    socket.once('connect', () => resolve({ socket, data: () => data, closed }))
    socket.once('error', reject)
  })
}

/** Resolves true when `p` settles within `ms`, false otherwise. */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    void p.then(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

t.test('a slow request head is cut off by the headers timeout', async (t) => {
  const { app } = await adminFixture(t, { app: { timeouts: { headersMs: 300 } } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  const c = await rawSocket(t, port)
  c.socket.write('GET /v1/state HTTP/1.1\r\nHost: 127.0.0.1\r\n') // the head never ends
  // Node's own default is 60 s (checked every 30 s): 10 s is a bound that fails without the option.
  t.ok(await within(c.closed, 10_000), 'the connection is closed')
  t.match(c.data(), /^HTTP\/1\.1 408/, 'with 408 Request Timeout')
})

t.test('a 401 with an unread body closes the connection', async (t) => {
  const { app } = await adminFixture(t, { token: TOKEN })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  const c = await rawSocket(t, port)
  c.socket.write('POST /v1/flip HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"fo')
  t.ok(await within(c.closed, 10_000), 'closed without waiting for the rest of the body')
  t.match(c.data(), /^HTTP\/1\.1 401/)
  t.match(c.data(), /connection: close/i)
})
