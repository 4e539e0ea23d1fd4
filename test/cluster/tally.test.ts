import t from 'tap'
import { availableParallelism } from 'node:os'
import { AppTally } from '../../src/cluster/tally.js'
import { workerCount } from '../../src/cluster/primary.js'
import { ConfigError, validateConfig } from '../../src/config/index.js'
import { ErrorWindows } from '../../src/control/windows.js'
import { createMetrics } from '../../src/observability/metrics.js'

const upstreams = { blue: { targets: ['http://127.0.0.1:3001'] }, green: { targets: ['http://127.0.0.1:3002'] } }

t.test('a worker tally empties into one report the primary adds up', async (t) => {
  const tally = new AppTally()
  t.equal(tally.take(), null, 'nothing counted: nothing to send')
  tally.request('green', 200, 0.003, null)
  tally.request('green', 503, 0.02, null)
  tally.request('blue', 502, 1.5, 'connect')
  tally.request('green', 200, 0.004, 'reset')
  const r = tally.take()
  if (r === null) throw new Error('expected a report')
  t.same(r.window, [1, 1, 3, 2], 'blue 1 request 1 error; green 3 requests, 2 errors (a 5xx and a reset)')
  t.equal(tally.take(), null, 'taking empties it')

  // Two workers' reports into one app's metrics: the sums of both.
  const metrics = createMetrics({ defaultMetrics: false })
  const app = metrics.app('shop')
  app.absorb(r.tallies)
  app.absorb(r.tallies)
  const snap = app.snapshot()
  t.equal(snap.green.requests, 6)
  t.equal(snap.green.errors, 2)
  t.equal(snap.blue.errors, 2)
  const text = await metrics.registry.metrics()
  t.match(text, /switchyard_requests_total\{app="shop",color="green",code="200"\} 4/)
  t.match(text, /switchyard_upstream_errors_total\{app="shop",color="blue",kind="connect"\} 2/)
  t.match(text, /switchyard_request_duration_seconds_sum\{app="shop",color="blue"\} 3/)
  t.match(text, /switchyard_request_duration_seconds_bucket\{app="shop",color="blue",le="2.5"\} 2/)
})

t.test('error windows add a batch as of now, and forget it when it slides out', async (t) => {
  let now = 100_000
  const w = new ErrorWindows({ windowSeconds: 3, now: () => now })
  w.add('green', 10, 4)
  w.record('green', true)
  t.same(w.snapshot('green'), { requests: 11, errors: 5, errorRate: 5 / 11 })
  t.same(w.snapshot('blue'), { requests: 0, errors: 0, errorRate: 0 })
  now += 3_000
  t.same(w.snapshot('green'), { requests: 0, errors: 0, errorRate: 0 })
})

t.test('workers: an integer ≥ 1 or auto; default 1', async (t) => {
  t.equal(validateConfig({ upstreams }).workers, 1)
  t.equal(workerCount(validateConfig({ upstreams })), 1)
  t.equal(workerCount(validateConfig({ upstreams, workers: 4 })), 4)
  t.equal(workerCount(validateConfig({ upstreams, workers: 'auto' })), availableParallelism())
  for (const bad of [0, -1, 1.5, 'all', null]) {
    const e = t.throws(() => validateConfig({ upstreams, workers: bad })) as ConfigError
    t.match(e.message, /workers/, `workers: ${JSON.stringify(bad)} is refused, naming the key`)
  }
})
