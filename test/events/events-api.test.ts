import t from 'tap'
import { connect } from 'node:net'
import { request } from '../helpers/request.js'
import { openEvents, type SseClient } from './sse-client.js'
import { startTwoApps } from './two-apps.js'

/**
 * GET /v1/events against the real router process (build first): the first
 * events, a change as `state` + `history`, `stats` every 1–2 s with the
 * traffic that was sent, the token, the cap on streams.
 */

t.test('GET /v1/events on a router with two apps', async (t) => {
  const r = await startTwoApps()
  t.teardown(() => r.close())
  const streams: SseClient[] = []
  t.teardown(() => streams.forEach((s) => s.close()))
  const open = async (token: string | null = r.token) => {
    const s = await openEvents(r.router.adminUrl, token)
    streams.push(s)
    return s
  }

  await t.test('the token is required', async (t) => {
    const none = await open(null)
    t.equal(none.status, 401)
    const wrong = await open('not-the-token')
    t.equal(wrong.status, 401)
  })

  await t.test('on connect: one state per app, then a change arrives as state and history', async (t) => {
    const s = await open()
    t.equal(s.status, 200)
    const shop = await s.waitFor((e) => e.event === 'state' && e.data.app === 'shop', 5000, 'the state of shop')
    const blog = await s.waitFor((e) => e.event === 'state' && e.data.app === 'blog', 5000, 'the state of blog')
    t.equal(shop.data.state.live, 'blue')
    t.equal(blog.data.state.version, 1)
    const flip = await r.call('POST', '/v1/apps/shop/flip', { reason: 'events test' })
    t.equal(flip.status, 200, JSON.stringify(flip.json))
    const st = await s.waitFor(
      (e) => e.event === 'state' && e.data.app === 'shop' && e.data.state.live === 'green',
      5000,
      'the flipped state',
    )
    t.equal(st.data.state.version, flip.json.state.version)
    const h = await s.waitFor((e) => e.event === 'history' && e.data.app === 'shop', 5000, 'the history entry')
    t.match(h.data.entry, { action: 'flip', from: 'blue', to: 'green', reason: 'events test', version: flip.json.state.version })
    t.notOk(
      s.events.some((e) => e.event === 'state' && e.data.app === 'blog' && e.data.state.version !== 1),
      'blog did not change',
    )
  })

  await t.test('stats every 1–2 s with the traffic of each color', async (t) => {
    const s = await open()
    // shop is green now: send it traffic, some of it failing.
    r.shop.green.status = 500
    let stop = false
    const load = (async () => {
      let n = 0
      while (!stop) {
        await request(r.router.proxyUrl + '/x', { headers: { host: 'shop.test' } })
        if (++n === 10) r.shop.green.status = 200
      }
    })()
    t.teardown(() => {
      stop = true
      return load
    })
    const first = await s.waitFor((e) => e.event === 'stats' && e.data.app === 'shop', 5000, 'stats of shop')
    const stats = [first]
    for (let i = 0; i < 3; i++) {
      stats.push(
        await s.waitFor(
          (e) => e.event === 'stats' && e.data.app === 'shop' && e.at > stats[stats.length - 1].at,
          5000,
          'more stats of shop',
        ),
      )
    }
    stop = true
    await load
    for (const e of stats) {
      t.hasStrict(Object.keys(e.data.colors).sort(), ['blue', 'green'])
      t.ok(e.data.intervalSeconds >= 0.9 && e.data.intervalSeconds <= 2.5, `interval ${e.data.intervalSeconds} s`)
    }
    const gaps = stats.slice(1).map((e, i) => e.at - stats[i].at)
    t.ok(
      gaps.every((g) => g > 500 && g < 3000),
      `stats arrive about every second: ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`,
    )
    const total = stats.reduce((n, e) => n + e.data.colors.green.rps * e.data.intervalSeconds, 0)
    t.ok(total > 10, `green served requests (${total.toFixed(0)})`)
    t.ok(
      stats.every((e) => e.data.colors.blue.rps === 0),
      `blue is idle and shows 0 rps: ${JSON.stringify(stats.map((e) => e.data.colors.blue))}`,
    )
    const withTraffic = stats.filter((e) => e.data.colors.green.requests > 0)
    t.ok(
      withTraffic.every(
        (e) => typeof e.data.colors.green.p99 === 'number' && e.data.colors.green.p99 > 0 && e.data.colors.green.p99 < 5000,
      ),
      'p99 in ms',
    )
    const errors = stats.reduce((n, e) => n + e.data.colors.green.errorRate * e.data.colors.green.requests, 0)
    t.ok(Math.round(errors) >= 9 && Math.round(errors) <= 11, `the ~10 failed requests show in the error rate (${errors.toFixed(1)})`)
    t.ok(stats.filter((e) => e.data.colors.blue.p99 === null).length === stats.length, 'no p99 without requests')
  })

  await t.test('a reader that never reads is cut off, and the others carry on', async (t) => {
    const listener = await open()
    // A raw connection that sends the request and then never reads a byte.
    const addr = new URL(r.router.adminUrl)
    const sock = connect(Number(addr.port), addr.hostname)
    await new Promise<void>((res) => sock.once('connect', () => res()))
    sock.write(`GET /v1/events HTTP/1.1\r\nHost: ${addr.host}\r\nAuthorization: Bearer ${r.token}\r\n\r\n`)
    sock.pause()
    const closed = new Promise<void>((res) => sock.once('close', () => res()))
    t.teardown(() => void sock.destroy())
    // Big states: a cohort of 40,000 users (~0.6 MB per state event); each
    // write sends it to every stream. 20 of them (~13 MB) are more than the
    // kernel's socket buffers take (a few MB), so the router's own buffer
    // passes its bound (1 MiB) and it drops the reader.
    const users = Array.from({ length: 40_000 }, (_, i) => `user-${String(i).padStart(8, '0')}`)
    const writes = 20
    let sent = 0
    for (let i = 0; i < writes; i++) {
      const w = await r.call('PUT', '/v1/apps/blog/cohorts/big', { color: 'green', match: { users: i % 2 === 0 ? users : users.slice(1) } })
      t.equal(w.status, 200)
      sent += JSON.stringify(w.json.state).length
    }
    // Now read what the router kept for it: the stream must end, short of everything.
    let received = 0
    sock.on('data', (d: Buffer) => (received += d.length))
    sock.resume()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), 15_000)))
    const outcome = await Promise.race([closed.then(() => 'closed' as const), timeout])
    // A pending 15 s timer would keep this test's process alive after it is done.
    clearTimeout(timer)
    t.equal(outcome, 'closed', 'the router closed the slow stream')
    t.ok(received < sent, `it got ${(received / 1e6).toFixed(1)} MB of the ${(sent / 1e6).toFixed(1)} MB of state events`)
    t.ok(
      r.router.logs.some((l) => l.msg === 'events: a stream read too slowly and was closed'),
      'the router logged the cut',
    )
    // The listener that reads got every change.
    await listener.waitFor(
      (e) => e.event === 'history' && e.data.app === 'blog' && e.data.entry.version === 1 + writes,
      20_000,
      'the last big change',
    )
    const del = await r.call('DELETE', '/v1/apps/blog/cohorts/big')
    t.equal(del.status, 200)
    const rss = Number((await readStatus(r.router.child.pid!)).match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024
    t.ok(rss < 400, `router RSS ${rss.toFixed(0)} MB`)
  })

  await t.test('at most 100 streams; the 101st gets 503 TOO_MANY_STREAMS', async (t) => {
    for (const s of streams) s.close()
    streams.length = 0
    await new Promise((res) => setTimeout(res, 300))
    const opened = await Promise.all(Array.from({ length: 100 }, () => open()))
    t.ok(
      opened.every((s) => s.status === 200),
      '100 streams open',
    )
    const extra = await request(r.router.adminUrl + '/v1/events', { headers: { authorization: `Bearer ${r.token}` } })
    t.equal(extra.status, 503)
    t.equal(extra.json().error.code, 'TOO_MANY_STREAMS')
    opened[0].close()
    // the slot is freed when the connection closes
    let again: SseClient | null = null
    for (let i = 0; i < 50 && again?.status !== 200; i++) {
      await new Promise((res) => setTimeout(res, 100))
      again = await open()
      if (again.status !== 200) again.close()
    }
    t.equal(again?.status, 200, 'a closed stream frees its place')
  })
})

async function readStatus(pid: number): Promise<string> {
  const { readFile } = await import('node:fs/promises')
  return readFile(`/proc/${pid}/status`, 'utf8')
}
