import http from 'node:http'
import type { Duplex } from 'node:stream'
import { once } from 'node:events'
import t from 'tap'
import { freePort } from '../helpers/upstream.js'
import { setup } from '../helpers/dataplane.js'

interface Upgraded {
  status: number
  headers: http.IncomingHttpHeaders
  socket: Duplex
  head: Buffer
}

/** Sends an Upgrade request; resolves on 101 (with the socket) or on any other response. */
function upgrade(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<Upgraded> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, headers: { connection: 'Upgrade', upgrade: 'echo', ...headers } })
    req.on('upgrade', (res, socket, head) => resolve({ status: res.statusCode ?? 0, headers: res.headers, socket, head }))
    req.on('response', (res) => {
      res.resume()
      resolve({ status: res.statusCode ?? 0, headers: res.headers, socket: res.socket, head: Buffer.alloc(0) })
    })
    req.on('error', reject)
    req.end()
  })
}

/** Reads from a socket until `n` bytes arrived. */
async function readBytes(socket: Duplex, n: number, first: Buffer): Promise<Buffer> {
  const chunks = [first]
  let got = first.length
  while (got < n) {
    const [c] = (await once(socket, 'data')) as [Buffer]
    chunks.push(c)
    got += c.length
  }
  return Buffer.concat(chunks)
}

t.test('an upgrade is tunnelled to the routed color and echoes bytes both ways', async (t) => {
  const s = await setup(t)
  const u = await upgrade(`${s.url}/ws?room=1`, { 'x-forwarded-for': '10.1.1.1' })
  t.teardown(() => u.socket.destroy())
  t.equal(u.status, 101)
  t.equal(u.headers['x-served-by'], 'blue')
  const seen = s.blue.requests[0]
  t.equal(seen.url, '/ws?room=1')
  t.equal(seen.headers['x-switchyard-color'], 'blue')
  t.equal(seen.headers.upgrade, 'echo')
  t.match(seen.headers.connection, /upgrade/i)
  t.equal(seen.headers['x-forwarded-for'], '10.1.1.1, 127.0.0.1')
  t.equal(seen.headers['x-forwarded-proto'], 'http')

  const payload = Buffer.from('hello through the tunnel '.repeat(1000))
  u.socket.write(payload)
  const echoed = await readBytes(u.socket, payload.length, u.head)
  t.equal(echoed.toString(), payload.toString())

  await s.recorder.until(1)
  t.same(
    s.recorder.calls.map((c) => [c.color, c.status, c.kind]),
    [['blue', 101, null]],
  )
  t.equal(s.dp.inFlight(), 0, 'tunnels are not requests in flight')
})

t.test('upgrades follow the routing table', async (t) => {
  const s = await setup(t)
  s.setState({ live: 'green', version: 2 })
  const u = await upgrade(`${s.url}/ws`)
  t.teardown(() => u.socket.destroy())
  t.equal(u.status, 101)
  t.equal(u.headers['x-served-by'], 'green')
})

t.test('an upgrade to a color without a reachable target gets 502', async (t) => {
  const dead = `http://127.0.0.1:${await freePort()}`
  const s = await setup(t, { dp: { upstreams: { blue: { targets: [dead] }, green: { targets: [dead] } } } })
  const u = await upgrade(`${s.url}/ws`)
  t.teardown(() => u.socket.destroy())
  t.equal(u.status, 502)
  await s.recorder.until(1)
  t.same(
    s.recorder.calls.map((c) => [c.status, c.kind]),
    [[502, 'connect']],
  )
  t.equal(s.targets().blue[0].up, false)
})

t.test('closing either side of a tunnel closes the other', async (t) => {
  const s = await setup(t)
  const u = await upgrade(`${s.url}/ws`)
  t.equal(u.status, 101)
  const closed = once(u.socket, 'close')
  // The upstream ends the tunnel: the client side must follow.
  await s.blue.close()
  await closed
  t.pass('client socket closed after the upstream went away')
  const r = await upgrade(`${s.url}/ws`)
  t.teardown(() => r.socket.destroy())
  t.equal(r.status, 502, 'and the next upgrade finds no target')
})
