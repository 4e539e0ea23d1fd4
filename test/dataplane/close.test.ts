import http from 'node:http'
import { once } from 'node:events'
import t from 'tap'
import { request } from '../helpers/request.js'
import { setup } from '../helpers/dataplane.js'

t.test('close(graceMs) lets a slow in-flight request finish, then resolves', async (t) => {
  const s = await setup(t)
  const slow = request(`${s.url}/hold/slow`)
  await s.blue.held('slow')
  t.equal(s.dp.inFlight(), 1)
  let closed = false
  const closing = s.dp.close(60_000).then(() => {
    closed = true
  })
  // New connections are refused while closing.
  const refused = await request(`${s.url}/`).then(
    () => false,
    () => true,
  )
  t.ok(refused, 'no new connections while closing')
  t.notOk(closed, 'close waits for the in-flight request')
  s.blue.release('slow')
  const r = await slow
  t.equal(r.status, 200)
  t.equal(r.json().color, 'blue')
  await closing
  t.ok(closed)
  t.equal(s.dp.inFlight(), 0)
  await s.recorder.until(1)
  t.same(s.recorder.calls.map((c) => c.status), [200])
})

t.test('close on a keep-alive connection that is mid-response still resolves quickly', async (t) => {
  const s = await setup(t)
  const agent = new http.Agent({ keepAlive: true })
  t.teardown(() => agent.destroy())
  await request(`${s.url}/warm`, { agent })
  const slow = request(`${s.url}/hold/ka`, { agent })
  await s.blue.held('ka')
  const closing = s.dp.close(60_000)
  s.blue.release('ka')
  const r = await slow
  t.equal(r.status, 200)
  t.equal(r.headers.connection, 'close', 'the connection is not kept alive while closing')
  await closing
  t.pass('closed without waiting for the keep-alive timeout')
})

t.test('close(graceMs) cuts what is left after the grace', async (t) => {
  const s = await setup(t)
  const stuck = request(`${s.url}/hold/stuck`).then(
    () => 'answered',
    () => 'cut',
  )
  await s.blue.held('stuck')
  const u = http.request(s.url + '/ws', { agent: false, headers: { connection: 'Upgrade', upgrade: 'echo' } })
  const [, socket] = (await once(u.end(), 'upgrade')) as [http.IncomingMessage, import('node:net').Socket]
  socket.on('error', () => {})
  const tunnelClosed = once(socket, 'close')
  await s.dp.close(200)
  t.equal(await stuck, 'cut', 'the stuck request is cut')
  await tunnelClosed
  t.pass('the upgraded socket is closed')
  t.equal(s.dp.inFlight(), 0)
  await s.recorder.until(2)
  t.same(s.recorder.calls.map((c) => [c.status, c.kind]).sort(), [[101, null], [499, null]], 'the tunnel and the cut request are reported')
})

t.test('close is idempotent and listen after close fails', async (t) => {
  const s = await setup(t)
  await Promise.all([s.dp.close(0), s.dp.close(0)])
  await t.rejects(s.dp.listen('127.0.0.1', 0))
})
