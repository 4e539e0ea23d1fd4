import t, { type Test } from 'tap'
import { mkdtempSync } from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { baseConfig, startRouterProcess, writeConfig, type RouterProcess } from './router-process.js'
import { OK_KEEP_ALIVE, exchange, startRawUpstream, statuses, type Answer } from './raw.js'
import { sleep } from '../helpers/time.js'

// Issue 10, data plane: plain requests through a real router process, over
// raw sockets: heads that must not be forwarded, upstream answers that must
// not be passed on as they are, slow clients that must not take a color
// down, and kept-alive connections the upstream closes under a request.

async function router(t: Test, target: string, extra: Record<string, unknown> = {}): Promise<{ router: RouterProcess; port: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const r = await startRouterProcess(writeConfig(baseConfig(dir, [target], [target], extra), dir))
  t.teardown(() => r.stop('SIGKILL'))
  return { router: r, port: Number(new URL(r.proxyUrl).port) }
}

async function rawUpstream(t: Test, answer: (head: string) => Answer) {
  const up = await startRawUpstream(answer)
  t.teardown(() => up.close())
  return up
}

const get = (path: string, more = ''): string => `GET ${path} HTTP/1.1\r\nHost: a\r\n${more}\r\n`

t.test('request heads that are never forwarded: two Host headers, absolute-form targets', async (t) => {
  const up = await rawUpstream(t, () => OK_KEEP_ALIVE)
  const { port } = await router(t, up.url)
  const two = await exchange(port, ['GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n'])
  t.same(statuses(two.data), [400])
  t.match(two.data, /"code":"BAD_REQUEST"/)
  const absolute = await exchange(port, ['GET http://b.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n'])
  t.same(statuses(absolute.data), [400])
  t.equal(up.heads.length, 0, 'nothing reached the upstream')
})

t.test('Connection: host does not strip the Host header', async (t) => {
  const up = await rawUpstream(t, () => OK_KEEP_ALIVE)
  const { port } = await router(t, up.url)
  const r = await exchange(port, [get('/', 'Connection: host, x-drop-me\r\nx-drop-me: 1\r\n')], { deadlineMs: 2_000 })
  t.same(statuses(r.data), [200])
  t.equal(up.heads.length, 1)
  t.match(up.heads[0], /^host: a$/im, 'the upstream got the Host')
  t.notMatch(up.heads[0], /x-drop-me/i, 'other names in Connection are still dropped')
})

t.test('an upstream 204 with a body still gives the client its 204; a status of 600 or more is a 502', async (t) => {
  const up = await rawUpstream(t, (head) => {
    if (head.startsWith('GET /204')) return 'HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nhello'
    if (head.startsWith('GET /600')) return 'HTTP/1.1 600 Weird\r\ncontent-length: 2\r\n\r\nok'
    return OK_KEEP_ALIVE
  })
  const { router: r, port } = await router(t, up.url)
  const nc = await exchange(port, [get('/204')], { deadlineMs: 3_000 })
  t.same(statuses(nc.data), [204], 'the client got an answer')
  t.notMatch(nc.data, /hello/, 'and no body')
  const weird = await exchange(port, [get('/600')], { deadlineMs: 3_000 })
  t.same(statuses(weird.data), [502], 'a status outside 100-599 is not passed on')
  t.match(weird.data, /"code":"UPSTREAM_UNAVAILABLE"/)
  const after = await fetch(r.proxyUrl + '/fine')
  t.equal(after.status, 200, 'the router goes on serving')
  await after.text()
})

t.test('kept-alive connections the upstream closes under a request: GETs are retried, a POST is not', async (t) => {
  // Each connection answers its first request and closes on the second one
  // without a byte: the race with an upstream keep-alive timeout, every time.
  const server = net.createServer((sock) => {
    let heads = 0
    sock.on('error', () => sock.destroy())
    sock.on('data', (d: Buffer) => {
      const before = heads
      heads += d.toString('latin1').split(' HTTP/1.1\r\n').length - 1
      if (heads >= 2) sock.destroy()
      else if (heads === 1 && before === 0) sock.write(OK_KEEP_ALIVE)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const { router: r } = await router(t, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    autoRevert: { enabled: false },
    limits: { connectionsPerTarget: 1 },
  })
  const codes: number[] = []
  for (let i = 0; i < 20; i++) {
    const res = await fetch(r.proxyUrl + '/x')
    codes.push(res.status)
    await res.text()
  }
  t.same(codes, Array(20).fill(200), 'every GET answered 200, none 502')
  // Warm a connection, then POST on it: the body cannot be sent again.
  const warm = await fetch(r.proxyUrl + '/x')
  await warm.text()
  const post = await fetch(r.proxyUrl + '/x', { method: 'POST', body: 'payload' })
  await post.text()
  t.equal(post.status, 502, 'a request with a body is not sent twice')
})

t.test('slow clients: a request gets 503 UPSTREAM_BUSY after limits.queueTimeoutMs instead of waiting', async (t) => {
  const up = await rawUpstream(t, () => 'hang')
  const { port } = await router(t, up.url, { limits: { connectionsPerTarget: 2, queueTimeoutMs: 400 } })
  // Two slow uploads hold both upstream connections (a byte now and then).
  const slow = [0, 1].map(() =>
    exchange(port, ['POST /up HTTP/1.1\r\nHost: a\r\ncontent-length: 100\r\n\r\nx', 'x', 'x', 'x'], { gapMs: 500, deadlineMs: 3_000 }),
  )
  await sleep(300)
  const other = await exchange(port, [get('/')], { deadlineMs: 8_000 })
  t.same(statuses(other.data), [503], 'an answer, not an endless wait')
  t.match(other.data, /"code":"UPSTREAM_BUSY"/)
  await Promise.all(slow)
})

t.test('slow clients: a request body idle for timeouts.bodyIdleMs is cut and its upstream connection freed', async (t) => {
  const up = await rawUpstream(t, (head) => (head.startsWith('POST') ? 'hang' : OK_KEEP_ALIVE))
  const { port } = await router(t, up.url, { limits: { connectionsPerTarget: 1 }, timeouts: { bodyIdleMs: 300 } })
  const stalled = await exchange(port, ['POST /up HTTP/1.1\r\nHost: a\r\ncontent-length: 100\r\n\r\nx'], { deadlineMs: 8_000 })
  t.ok(stalled.closed, 'the router cut the stalled upload')
  const next = await exchange(port, [get('/')], { deadlineMs: 5_000 })
  t.same(statuses(next.data), [200], 'the only upstream connection is free again')
})

t.test('slow clients: one client holds at most limits.maxInFlightPerClient requests', async (t) => {
  const up = await rawUpstream(t, (head) => (head.startsWith('POST') ? 'hang' : OK_KEEP_ALIVE))
  // Behind a load balancer (trustForwarded) the client is the last x-forwarded-for entry.
  const { port } = await router(t, up.url, { limits: { connectionsPerTarget: 4, maxInFlightPerClient: 1 } })
  const slow = exchange(port, ['POST /up HTTP/1.1\r\nHost: a\r\nx-forwarded-for: 10.0.0.1\r\ncontent-length: 100\r\n\r\nx'], {
    deadlineMs: 2_000,
  })
  await sleep(300)
  const same = await exchange(port, [get('/', 'x-forwarded-for: 10.0.0.1\r\n')], { deadlineMs: 5_000 })
  t.same(statuses(same.data), [429])
  t.match(same.data, /"code":"CLIENT_LIMIT"/)
  const other = await exchange(port, [get('/', 'x-forwarded-for: 10.0.0.2\r\n')], { deadlineMs: 5_000 })
  t.same(statuses(other.data), [200], 'another client is served')
  await slow
  let again: number[] = []
  for (let i = 0; i < 50 && again[0] !== 200; i++) {
    if (i > 0) await sleep(100)
    again = statuses((await exchange(port, [get('/', 'x-forwarded-for: 10.0.0.1\r\n')], { deadlineMs: 2_000 })).data)
  }
  t.same(again, [200], 'its place is given back when its request ends')
})
