import t from 'tap'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { EventHub, colorStats, quantile, type EventApp } from '../../src/control/events/index.js'
import { DURATION_BUCKETS, createMetrics } from '../../src/observability/metrics.js'
import { initialState } from '../../src/routing/index.js'
import { openEvents } from './sse-client.js'

/** The hub alone, on a plain HTTP server: timers only while someone listens, heartbeats, remote changes, stats math. */

t.test('quantile interpolates inside the bucket, like histogram_quantile', async (t) => {
  const n = DURATION_BUCKETS.length + 1
  const b = new Float64Array(n)
  t.equal(quantile(b, 0.99), null, 'no requests: no p99')
  b[3] = 100 // all in (0.005, 0.01]
  t.equal(quantile(b, 0.5), 0.0075)
  t.equal(quantile(b, 1), 0.01)
  b.fill(0)
  b[0] = 99
  b[n - 1] = 1 // one beyond 10 s
  t.equal(quantile(b, 0.99), 0.001, '99 of 100 within 1 ms')
  t.equal(quantile(b, 1), 10, 'the +Inf bucket answers the highest bound')
})

t.test('colorStats: per-interval deltas, and a restarted tally reads as a fresh start', async (t) => {
  const m = createMetrics({ defaultMetrics: false }).app('a')
  const before = m.snapshot()
  for (let i = 0; i < 90; i++) m.observer.request('green', 200, 0.02, null)
  for (let i = 0; i < 10; i++) m.observer.request('green', 503, 0.3, null)
  m.observer.request('blue', 404, 0.001, null)
  const after = m.snapshot()
  const g = colorStats(before.green, after.green, 2)
  t.same(g, { rps: 50, errorRate: 0.1, p99: 475, requests: 100 })
  t.same(colorStats(before.blue, after.blue, 2), { rps: 0.5, errorRate: 0, p99: 0.99, requests: 1 }, 'a 4xx is not an error')
  t.same(colorStats(after.green, before.green, 1).requests, 0, 'counts going down (app re-added) do not go negative')
  t.equal(colorStats(before.green, after.green, 0).rps, 0)
})

async function serve(hub: EventHub): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    try {
      hub.admit()
    } catch {
      res.writeHead(503).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    hub.open(res)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

t.test('no timer and no work without a listener; stats and heartbeats while one listens', async (t) => {
  let state = initialState('blue', '2026-01-01T00:00:00.000Z')
  let reads = 0
  const history: { version: number; action: string }[] = []
  const app: EventApp = {
    name: 'shop',
    service: {
      get state() {
        return state
      },
      history: async () => {
        reads++
        return history as never
      },
    },
  }
  const metrics = createMetrics({ defaultMetrics: false })
  let tallies = 0
  const hub = new EventHub({
    apps: () => [app],
    tallies: (name) => {
      tallies++
      return metrics.app(name).snapshot()
    },
    statsIntervalMs: 100,
    heartbeatMs: 150,
    maxStreams: 2,
  })
  const { url, server } = await serve(hub)
  t.teardown(() => {
    hub.close()
    server.closeAllConnections()
    server.close()
  })
  const change = (entry: unknown) => {
    const previous = state
    state = { ...state, version: state.version + 1, live: state.live === 'blue' ? 'green' : 'blue' }
    hub.onChange({ app: 'shop', state, previous, entry: entry as never })
  }

  change(null)
  t.equal(hub.ticking, false, 'no timers before anyone listens')
  await new Promise((r) => setTimeout(r, 250))
  t.equal(tallies, 0, 'no tallies read')
  t.equal(reads, 0, 'a remote change read no history for nobody')

  const s = await openEvents(url, null)
  t.teardown(() => s.close())
  t.equal(hub.size, 1)
  t.equal(hub.ticking, true)
  await s.waitFor((e) => e.event === 'state' && e.data.state.version === 2, 2000, 'the first state')
  await s.waitFor((e) => e.event === 'stats', 2000, 'stats')
  const start = Date.now()
  while (!s.comments.includes('heartbeat') && Date.now() - start < 3000) await new Promise((r) => setTimeout(r, 20))
  t.ok(s.comments.includes('heartbeat'), 'heartbeat comment')

  // A change made on another instance (entry: null): its entry is read from the store.
  history.unshift({ version: 3, action: 'rollback' })
  change(null)
  const h = await s.waitFor((e) => e.event === 'history', 2000, 'the remote change’s history')
  t.match(h.data, { app: 'shop', entry: { version: 3, action: 'rollback', app: 'shop' } })

  const s2 = await openEvents(url, null)
  t.teardown(() => s2.close())
  const s3 = await openEvents(url, null)
  t.equal(s3.status, 503, 'beyond maxStreams')

  s.close()
  s2.close()
  const until = Date.now() + 3000
  while (hub.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.equal(hub.size, 0, 'closed streams leave')
  t.equal(hub.ticking, false, 'timers stop with the last listener')
  const n = tallies
  await new Promise((r) => setTimeout(r, 300))
  t.equal(tallies, n, 'no tallies read after the last one left')
})

t.test('a stream whose reader is behind: stats dropped, then cut off past the bound', async (t) => {
  const state = initialState('blue', '2026-01-01T00:00:00.000Z')
  const app: EventApp = { name: 'a', service: { state, history: async () => [] } }
  const metrics = createMetrics({ defaultMetrics: false })
  const hub = new EventHub({
    apps: () => [app],
    tallies: (n) => metrics.app(n).snapshot(),
    maxBufferedBytes: 64 * 1024,
    statsIntervalMs: 20,
  })
  const chunks: string[] = []
  let needDrain = false
  let length = 0
  let destroyed = false
  // A response whose socket never takes anything: everything stays buffered.
  const res = {
    once: () => res,
    get writableNeedDrain() {
      return needDrain
    },
    get writableLength() {
      return length
    },
    write(s: string) {
      chunks.push(s)
      length += Buffer.byteLength(s)
      needDrain = true
      return false
    },
    end() {},
    destroy() {
      destroyed = true
    },
  }
  const stream = hub.open(res as never)
  t.equal(hub.size, 1)
  await new Promise((r) => setTimeout(r, 150))
  t.ok(stream.dropped >= 3, `stats dropped while the socket is behind (${stream.dropped})`)
  t.notOk(
    chunks.some((c) => c.startsWith('event: stats')),
    'no stats frame written',
  )
  const before = chunks.length
  const big = {
    ...state,
    version: 2,
    cohorts: [{ name: 'c', color: 'green', match: { users: Array.from({ length: 3000 }, (_, i) => `u${i}`) } }],
  }
  hub.onChange({ app: 'a', state: big as never, previous: state, entry: null })
  t.equal(chunks.length, before + 1, 'a state frame is never dropped')
  for (let i = 0; i < 10 && !destroyed; i++) hub.onChange({ app: 'a', state: big as never, previous: state, entry: null })
  t.ok(destroyed, 'cut off once the buffer would pass the bound')
  t.ok(length <= 64 * 1024, `buffered ${length} B ≤ the bound`)
  t.equal(hub.size, 0)
  t.equal(hub.slowClosed, 1)
  hub.close()
})
