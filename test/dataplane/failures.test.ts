import http from 'node:http'
import { once } from 'node:events'
import t from 'tap'
import { request } from '../helpers/request.js'
import { freePort, startUpstream } from '../helpers/upstream.js'
import { TIMEOUTS, setup } from '../helpers/dataplane.js'

t.test('502 with a JSON error when the color has no reachable target', async (t) => {
  const dead = `http://127.0.0.1:${await freePort()}`
  const s = await setup(t, { dp: { upstreams: { blue: { targets: [dead] }, green: { targets: [dead] } } } })
  const r = await request(`${s.url}/`)
  t.equal(r.status, 502)
  t.equal(r.headers['content-type'], 'application/json; charset=utf-8')
  t.equal(r.headers['x-switchyard-color'], 'blue')
  t.equal(r.json().error.code, 'UPSTREAM_UNAVAILABLE')
  t.type(r.json().error.message, 'string')
  t.same(s.targets().blue, [{ url: dead, up: false }], 'the target is marked down')
  await s.recorder.until(1)
  t.same(
    s.recorder.calls.map((c) => [c.color, c.status, c.kind]),
    [['blue', 502, 'connect']],
  )

  // While it is down and another request probes it, the rest fail fast.
  const again = await request(`${s.url}/`)
  t.equal(again.status, 502)
  await s.recorder.until(2)
  t.ok(['connect', 'no-target'].includes(s.recorder.calls[1].kind as string), 'second failure is connect or no-target')
})

t.test('fails over to the next target when one refuses connections', async (t) => {
  const dead = `http://127.0.0.1:${await freePort()}`
  const extra = await startUpstream({ color: 'blue-2' })
  t.teardown(() => extra.close())
  const s = await setup(t, { dp: { upstreams: { blue: { targets: [dead, extra.url] }, green: { targets: [dead] } } } })
  for (let i = 0; i < 4; i++) {
    const r = await request(`${s.url}/${i}`)
    t.equal(r.status, 200, `request ${i} answered`)
    t.equal(r.json().color, 'blue-2')
  }
  t.same(s.targets().blue, [
    { url: dead, up: false },
    { url: extra.url, up: true },
  ])
  t.equal(extra.requests.length, 4)
  await s.recorder.until(4)
  t.ok(
    s.recorder.calls.every((c) => c.status === 200 && c.kind === null),
    'failover is not an error',
  )
})

t.test('a POST with a body is not retried on another target', async (t) => {
  const dead = `http://127.0.0.1:${await freePort()}`
  const extra = await startUpstream({ color: 'blue-2' })
  t.teardown(() => extra.close())
  const s = await setup(t, { dp: { upstreams: { blue: { targets: [dead, extra.url] }, green: { targets: [dead] } } } })
  // Round-robin starts on the dead target for the first request.
  const r = await request(`${s.url}/sha`, { method: 'POST', body: 'hello' })
  t.equal(r.status, 502)
  t.equal(extra.requests.length, 0)
})

t.test('a request with a body never probes a down target while another is up', async (t) => {
  const dead = `http://127.0.0.1:${await freePort()}`
  const live = await startUpstream({ color: 'blue-2' })
  t.teardown(() => live.close())
  let now = 1_000_000
  const s = await setup(t, { dp: { now: () => now, upstreams: { blue: { targets: [dead, live.url] }, green: { targets: [dead] } } } })
  t.equal((await request(`${s.url}/`)).status, 200, 'a GET finds the dead target and fails over')
  t.equal(s.targets().blue[0].up, false)
  now += 60_000 // the dead target's backoff is over: it may be probed again
  for (let i = 0; i < 4; i++) {
    const r = await request(`${s.url}/sha`, { method: 'POST', body: `payload ${i}` })
    t.equal(r.status, 200, `POST ${i} went to the live target`)
  }
  t.equal(live.requests.length, 5)
  const probe = await request(`${s.url}/`)
  t.equal(probe.status, 200, 'a GET probes the dead target, then fails over')
  t.equal(live.requests.length, 6)
  t.equal(s.targets().blue[0].up, false, 'still down after the probe')
})

t.test('round-robin spreads requests over healthy targets', async (t) => {
  const a = await startUpstream({ color: 'a' })
  t.teardown(() => a.close())
  const b = await startUpstream({ color: 'b' })
  t.teardown(() => b.close())
  const s = await setup(t, { dp: { upstreams: { blue: { targets: [a.url, b.url] }, green: { targets: [a.url] } } } })
  const seen: string[] = []
  for (let i = 0; i < 4; i++) seen.push((await request(`${s.url}/`)).json().color)
  t.same(seen, ['a', 'b', 'a', 'b'])
})

t.test('a target that comes back is used again', async (t) => {
  const port = await freePort()
  const s = await setup(t, {
    dp: { upstreams: { blue: { targets: [`http://127.0.0.1:${port}`] }, green: { targets: [`http://127.0.0.1:${port}`] } } },
  })
  t.equal((await request(`${s.url}/`)).status, 502)
  const server = http.createServer((_req, res) => res.end('back'))
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  // With every target down, one request at a time probes: no wait for the backoff.
  const r = await request(`${s.url}/`)
  t.equal(r.status, 200)
  t.equal(r.body.toString(), 'back')
  t.equal(s.targets().blue[0].up, true)
})

t.test('504 when the upstream does not send headers in time', async (t) => {
  const s = await setup(t, { dp: { timeouts: { ...TIMEOUTS, connectMs: 5_000, headersMs: 300, bodyMs: 30_000 } } })
  const r = await request(`${s.url}/hold/never`)
  t.equal(r.status, 504)
  t.equal(r.json().error.code, 'UPSTREAM_TIMEOUT')
  await s.recorder.until(1)
  t.same(
    s.recorder.calls.map((c) => [c.color, c.status, c.kind]),
    [['blue', 504, 'timeout']],
  )
  t.equal(s.targets().blue[0].up, true, 'a slow target is not a dead one')
})

t.test('an upstream reset after the headers cuts the client response', async (t) => {
  let first = true
  const resetter = await startUpstream({
    color: 'x',
    handler: (_req, res) => {
      if (!first) return false
      first = false
      res.writeHead(200, { 'content-length': '100' })
      res.write('partial')
      setImmediate(() => res.socket?.destroy())
      return true
    },
  })
  t.teardown(() => resetter.close())
  const s = await setup(t, { dp: { upstreams: { blue: { targets: [resetter.url] }, green: { targets: [resetter.url] } } } })
  const err = await request(`${s.url}/`).then(
    () => null,
    (e: Error) => e,
  )
  t.ok(err !== null, 'the client sees an aborted response, not a complete one')
  await s.recorder.until(1)
  t.same(
    s.recorder.calls.map((c) => [c.status, c.kind]),
    [[200, 'reset']],
  )
  // The proxy and the target still serve.
  t.equal((await request(`${s.url}/`)).status, 200)
})

t.test('an upstream that closes without answering gives 502 reset', async (t) => {
  const closer = await startUpstream({
    color: 'x',
    handler: (req) => {
      req.socket.destroy()
      return true
    },
  })
  t.teardown(() => closer.close())
  const s = await setup(t, { dp: { upstreams: { blue: { targets: [closer.url] }, green: { targets: [closer.url] } } } })
  const r = await request(`${s.url}/`, { method: 'POST', body: 'x' })
  t.equal(r.status, 502)
  await s.recorder.until(1)
  t.same(
    s.recorder.calls.map((c) => [c.status, c.kind]),
    [[502, 'reset']],
  )
})
