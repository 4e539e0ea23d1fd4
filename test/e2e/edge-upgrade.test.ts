import t, { type Test } from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { baseConfig, startRouterProcess, writeConfig, type RouterProcess } from './router-process.js'
import { OK_KEEP_ALIVE, exchange, startRawUpstream, statuses, type Answer, type RawUpstream } from './raw.js'
import { sleep } from '../helpers/time.js'

// Issue 10, data plane: upgrade requests through a real router process, over
// raw sockets. Only a 101 may turn a client connection into a raw pipe; an
// upgrade waits at most headersMs for its answer, an idle tunnel is closed,
// and tunnels are capped.

async function setup(
  t: Test,
  answer: (head: string) => Answer,
  extra: Record<string, unknown> = {},
): Promise<{ up: RawUpstream; router: RouterProcess; port: number }> {
  const up = await startRawUpstream(answer)
  t.teardown(() => up.close())
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const router = await startRouterProcess(
    writeConfig(baseConfig(dir, [up.url], [up.url], { headers: { trustForwarded: false }, limits: { maxBodyBytes: 100 }, ...extra }), dir),
  )
  t.teardown(() => router.stop('SIGKILL'))
  return { up, router, port: Number(new URL(router.proxyUrl).port) }
}

const UPGRADE_H2C =
  'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n'
const UPGRADE_WS =
  'GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
const FORGED =
  'POST /admin HTTP/1.1\r\nHost: a\r\nx-switchyard-cohort: forged\r\nx-switchyard-color: forged\r\nx-forwarded-for: 6.6.6.6\r\n' +
  'content-length: 200\r\n\r\n' +
  'x'.repeat(200)

t.test('an upgrade answered 200 keep-alive is relayed, then the connection closes: a second request is never smuggled', async (t) => {
  const { up, port } = await setup(t, () => OK_KEEP_ALIVE)
  // Second request after the first answer arrived, on the same connection.
  const later = await exchange(port, [UPGRADE_H2C, FORGED], { waitFor: '\r\n\r\nok' })
  t.same(statuses(later.data), [200], 'one answer: the upgrade refusal, relayed')
  t.match(later.data, /connection: close/i)
  t.match(later.data, /x-switchyard-color: blue/i, 'a relayed answer is a proxied response')
  t.ok(later.closed, 'the router closed the client connection after the answer')
  // Pipelined in the same packet as the upgrade request.
  const pipelined = await exchange(port, [UPGRADE_H2C + FORGED])
  t.same(statuses(pipelined.data), [200])
  t.ok(pipelined.closed)
  const all = up.all()
  t.notMatch(all, /forged/, 'no forged router header reached the upstream')
  t.notMatch(all, /6\.6\.6\.6/, 'no forged x-forwarded-for reached the upstream (trustForwarded: false)')
  t.notMatch(all, /x{101}/, 'no body past maxBodyBytes reached the upstream')
  t.equal(up.heads.length, 2, 'the upstream saw the two upgrade requests only')
  t.match(up.heads[0], /^GET \/ HTTP\/1\.1/)
})

t.test('a websocket upgrade answered 404 is relayed with its body, then closed', async (t) => {
  const { up, port } = await setup(t, () => 'HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found')
  const r = await exchange(port, [UPGRADE_WS, FORGED], { waitFor: 'not found' })
  t.same(statuses(r.data), [404])
  t.match(r.data, /\r\n\r\nnot found$/, 'the body follows the head')
  t.ok(r.closed)
  t.notMatch(up.all(), /forged/)
})

t.test('a 101 still opens a tunnel; bytes sent with the request head reach the upstream after it', async (t) => {
  const { up, port } = await setup(t, () => 'tunnel')
  const r = await exchange(port, [UPGRADE_WS + 'early bytes', 'late bytes'], { waitFor: 'early bytes', deadlineMs: 1_500 })
  t.same(statuses(r.data), [101])
  t.match(r.data, /early byteslate bytes$/, 'both echoed through the tunnel')
  t.equal(up.heads.length, 1)
  t.match(up.heads[0], /x-switchyard-color: blue/)
})

t.test('an upgrade waits at most timeouts.headersMs for its answer: 504', async (t) => {
  const { router, port } = await setup(t, () => 'hang', { timeouts: { headersMs: 300 } })
  const r = await exchange(port, [UPGRADE_WS], { deadlineMs: 10_000 })
  t.same(statuses(r.data), [504], 'no answer is a gateway timeout, not a connection open for ever')
  t.match(r.data, /"code":"UPSTREAM_TIMEOUT"/)
  t.ok(r.closed)
  t.equal(router.child.exitCode, null, 'the router is still running')
})

t.test('an idle tunnel is closed after timeouts.tunnelIdleMs', async (t) => {
  const { port } = await setup(t, () => 'tunnel', { timeouts: { tunnelIdleMs: 300 } })
  const r = await exchange(port, [UPGRADE_WS], { deadlineMs: 10_000 })
  t.same(statuses(r.data), [101])
  t.ok(r.closed, 'the router closed the idle tunnel')
})

t.test('tunnels are capped by limits.maxTunnels: 503 TOO_MANY_TUNNELS', async (t) => {
  const { port } = await setup(t, () => 'tunnel', { limits: { maxTunnels: 2 } })
  const open = [exchange(port, [UPGRADE_WS], { deadlineMs: 3_000 }), exchange(port, [UPGRADE_WS], { deadlineMs: 3_000 })]
  // Give the two a moment to be accepted before the third.
  await sleep(300)
  const third = await exchange(port, [UPGRADE_WS])
  t.same(statuses(third.data), [503])
  t.match(third.data, /"code":"TOO_MANY_TUNNELS"/)
  for (const o of await Promise.all(open)) t.same(statuses(o.data), [101], 'the first two stay open')
  // The router hears of the closes a moment later: retry, bounded.
  let again: number[] = []
  for (let i = 0; i < 50 && again[0] !== 101; i++) {
    if (i > 0) await sleep(100)
    again = statuses((await exchange(port, [UPGRADE_WS], { deadlineMs: 500 })).data)
  }
  t.same(again, [101], 'closed tunnels free their place')
})

t.test('an upgrade with an absolute-form target or two Host headers gets 400 and is not forwarded', async (t) => {
  const { up, port } = await setup(t, () => 'tunnel')
  const absolute = await exchange(port, [
    'GET http://evil.example/ HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  ])
  t.same(statuses(absolute.data), [400])
  const twoHosts = await exchange(port, ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'])
  t.same(statuses(twoHosts.data), [400])
  t.equal(up.heads.length, 0, 'nothing reached the upstream')
})
