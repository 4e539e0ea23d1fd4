import t from 'tap'
import { combineObservers, createMetrics, DURATION_BUCKETS } from '../../src/observability/metrics.js'
import type { RequestObserver } from '../../src/dataplane/observer.js'
import { stateV } from './helpers.js'

/** Parses Prometheus text into `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    out.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return out
}

t.test('every contract metric, with values after known observer calls', async (t) => {
  const m = createMetrics({ defaultMetrics: false, version: '1.2.3' })
  const a = m.app('default')
  a.setState(stateV(4, { live: 'green', canary: 12.5, lastFlipAt: '2025-01-01T00:00:10.000Z' }))
  const o = a.observer
  o.request('blue', 200, 0.0005, null)
  o.request('blue', 200, 0.001, null) // on the edge: le="0.001" includes it
  o.request('blue', 200, 0.3, null)
  o.request('blue', 503, 0.02, null)
  o.request('green', 502, 0.002, 'connect')
  o.request('green', 504, 30, 'timeout')
  o.request('green', 200, 0.01, 'reset')
  o.request('green', 502, 0.001, 'no-target')
  const text = await m.registry.metrics()
  const v = parse(text)
  const want: [string, number][] = [
    ['switchyard_requests_total{app="default",color="blue",code="200"}', 3],
    ['switchyard_requests_total{app="default",color="blue",code="503"}', 1],
    ['switchyard_requests_total{app="default",color="green",code="502"}', 2],
    ['switchyard_requests_total{app="default",color="green",code="504"}', 1],
    ['switchyard_requests_total{app="default",color="green",code="200"}', 1],
    ['switchyard_upstream_errors_total{app="default",color="green",kind="connect"}', 1],
    ['switchyard_upstream_errors_total{app="default",color="green",kind="timeout"}', 1],
    ['switchyard_upstream_errors_total{app="default",color="green",kind="reset"}', 1],
    ['switchyard_upstream_errors_total{app="default",color="green",kind="no-target"}', 1],
    ['switchyard_request_duration_seconds_bucket{app="default",color="blue",le="0.001"}', 2],
    ['switchyard_request_duration_seconds_bucket{app="default",color="blue",le="0.025"}', 3],
    ['switchyard_request_duration_seconds_bucket{app="default",color="blue",le="0.25"}', 3],
    ['switchyard_request_duration_seconds_bucket{app="default",color="blue",le="0.5"}', 4],
    ['switchyard_request_duration_seconds_bucket{app="default",color="blue",le="+Inf"}', 4],
    ['switchyard_request_duration_seconds_count{app="default",color="blue"}', 4],
    ['switchyard_request_duration_seconds_bucket{app="default",color="green",le="10"}', 3],
    ['switchyard_request_duration_seconds_bucket{app="default",color="green",le="+Inf"}', 4],
    ['switchyard_request_duration_seconds_count{app="default",color="green"}', 4],
    ['switchyard_live_color{app="default",color="blue"}', 0],
    ['switchyard_live_color{app="default",color="green"}', 1],
    ['switchyard_canary_percent{app="default"}', 12.5],
    ['switchyard_state_version{app="default"}', 4],
    ['switchyard_flips_total{app="default"}', 0],
    ['switchyard_auto_reverts_total{app="default"}', 0],
    ['switchyard_last_flip_timestamp_seconds{app="default"}', Date.parse('2025-01-01T00:00:10.000Z') / 1000],
    ['switchyard_build_info{version="1.2.3"}', 1],
  ]
  for (const [k, n] of want) t.equal(v.get(k), n, k)
  t.ok(Math.abs(v.get('switchyard_request_duration_seconds_sum{app="default",color="blue"}')! - 0.3215) < 1e-9, 'sum')
  t.notOk(
    [...v.keys()].some((k) => k.includes('blue') && k.includes('upstream_errors')),
    'no error series for blue',
  )
  t.match(text, /# TYPE switchyard_request_duration_seconds histogram/)
  t.match(text, /# TYPE switchyard_requests_total counter/)
  t.notOk(
    [...v.keys()].some((k) => k.startsWith('switchyard_') && !k.startsWith('switchyard_build_info') && !k.includes('app="default"')),
    'every per-app series carries app',
  )
  t.equal(
    [...v.keys()].filter((k) => k.startsWith('switchyard_request_duration_seconds_bucket{app="default",color="blue"')).length,
    DURATION_BUCKETS.length + 1,
  )
  // scraping twice does not double anything
  t.equal(parse(await m.registry.metrics()).get('switchyard_requests_total{app="default",color="blue",code="200"}'), 3)
  t.equal(m.registry.contentType, 'text/plain; version=0.0.4; charset=utf-8')
})

t.test('change events: gauges follow every state, counters only local writes', async (t) => {
  const m = createMetrics({ defaultMetrics: false })
  const a = m.app('default')
  const s1 = stateV(1)
  const s2 = stateV(2, { live: 'green', previous: 'blue', lastFlipAt: '2025-02-01T00:00:00.000Z' })
  const entry = { at: '', version: 2, action: 'flip' as const, from: 'blue', to: 'green', actor: 'a', reason: null }
  a.onChange({ app: 'default', previous: s1, state: s2, entry })
  const s3 = stateV(3, { live: 'blue', previous: 'green', lastFlipAt: '2025-02-01T00:05:00.000Z' })
  a.onChange({ app: 'default', previous: s2, state: s3, entry: { ...entry, version: 3, action: 'auto-revert' } })
  const s4 = stateV(4, { canary: 5, lastFlipAt: s3.lastFlipAt })
  a.onChange({ app: 'default', previous: s3, state: s4, entry: { ...entry, version: 4, action: 'canary' } })
  const s5 = stateV(5, { live: 'green', lastFlipAt: '2025-03-01T00:00:00.000Z' })
  a.onChange({ app: 'default', previous: s4, state: s5, entry: null }) // another instance's flip
  const v = parse(await m.registry.metrics())
  t.equal(v.get('switchyard_flips_total{app="default"}'), 2)
  t.equal(v.get('switchyard_auto_reverts_total{app="default"}'), 1)
  t.equal(v.get('switchyard_state_version{app="default"}'), 5)
  t.equal(v.get('switchyard_live_color{app="default",color="green"}'), 1)
  t.equal(v.get('switchyard_canary_percent{app="default"}'), 0)
  t.equal(v.get('switchyard_last_flip_timestamp_seconds{app="default"}'), Date.parse('2025-03-01T00:00:00.000Z') / 1000)
})

t.test('odd statuses and default metrics', async (t) => {
  const m = createMetrics()
  const a = m.app('default')
  a.setState(stateV(1)) // as an app does at start; lastFlipAt null
  a.observer.request('blue', 1000, 0.1, null)
  const text = await m.registry.metrics()
  t.equal(parse(text).get('switchyard_requests_total{app="default",color="blue",code="0"}'), 1)
  t.match(text, /process_cpu_user_seconds_total/, 'Node default metrics on the same registry')
  t.equal(parse(text).get('switchyard_last_flip_timestamp_seconds{app="default"}'), 0, 'never flipped: 0')
})

t.test('combineObservers calls each observer once, in order', async (t) => {
  const calls: string[] = []
  const mk = (name: string): RequestObserver => ({
    request: (c, s, sec, k) => {
      calls.push(`${name}:${c}:${s}:${sec}:${k}`)
    },
  })
  const a = mk('a')
  t.equal(combineObservers(a), a, 'one observer is used as is')
  combineObservers(a, mk('b')).request('green', 500, 0.5, 'reset')
  combineObservers(mk('x'), mk('y'), mk('z')).request('blue', 200, 1, null)
  t.same(calls, ['a:green:500:0.5:reset', 'b:green:500:0.5:reset', 'x:blue:200:1:null', 'y:blue:200:1:null', 'z:blue:200:1:null'])
})
