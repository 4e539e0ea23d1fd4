import t from 'tap'
import { MIRROR_PAIRS_PER_REPORT, MirrorRelay, pairFromWire } from '../../src/cluster/mirror-relay.js'
import { validateConfig } from '../../src/config/index.js'
import { ShadowRecorder } from '../../src/control/shadow.js'
import type { ShadowPair } from '../../src/dataplane/index.js'
import { createMetrics } from '../../src/observability/metrics.js'

/*
 * A worker's dark launch (`workers` > 1): the relay batches what the data
 * plane reports, the report crosses the IPC as JSON, and the primary feeds
 * it to the same ShadowRecorder (and metrics) a single process uses.
 */

const upstreams = { blue: { targets: ['http://127.0.0.1:3001'] }, green: { targets: ['http://127.0.0.1:3002'] } }

const json = (v: unknown) => Buffer.from(JSON.stringify(v))
const pair = (url: string, idlePrice: number, extra: Partial<ShadowPair> = {}): ShadowPair => ({
  method: 'GET',
  url,
  idle: 'green',
  live: { status: 200, headers: { 'content-type': 'application/json', etag: '"a"' }, body: json({ price: 10 }) },
  idleAnswer: { status: 200, headers: { 'content-type': 'application/json', etag: '"a"' }, body: json({ price: idlePrice }) },
  ...extra,
})

/** A report as the primary receives it: through JSON, as node's default IPC serialization does. */
const overIpc = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

function primary() {
  const config = validateConfig({ upstreams, workers: 2, mirror: { percent: 100, compare: { minSamples: 2, maxMismatchRate: 0.1 } } })
  const metrics = createMetrics({ defaultMetrics: false })
  const app = metrics.app('shop')
  const recorder = new ShadowRecorder({ settings: config.apps[0].mirror, clock: () => 0, live: () => 'blue', tally: app.mirror })
  return { recorder, metrics }
}

t.test('counts and pairs batched per report; the primary adds two workers into one recorder and the metrics', async (t) => {
  const workers = [new MirrorRelay(), new MirrorRelay()]
  t.equal(workers[0].take(), null, 'nothing happened: nothing to send')
  for (const w of workers) {
    w.mirror('sent')
    w.mirror('sent')
    w.mirror('dropped')
    w.mirror('error')
    w.skipped()
    w.answers(pair('/api/price/1?x=1', 12))
    w.answers(
      pair('/api/items/1', 10, { live: { status: 200, headers: {}, body: null }, idleAnswer: { status: 200, headers: {}, body: null } }),
    )
  }
  const { recorder, metrics } = primary()
  for (const w of workers) {
    const r = overIpc(w.take())
    if (r === null) throw new Error('expected a report')
    t.match(r, { sent: 2, dropped: 1, error: 1, skipped: 1 })
    t.equal(r.pairs.length, 2)
    t.type(r.pairs[0].live.body, 'string', 'bodies cross as base64')
    recorder.absorb(r)
    for (const p of r.pairs) recorder.answers(pairFromWire(p))
    t.equal(w.take(), null, 'taking empties it')
  }
  const rep = recorder.report(100)
  t.match(rep, { sent: 4, dropped: 2, errors: 2, samples: 2, mismatches: 2, skipped: 4, refusing: true })
  t.same(rep.recent[0].diff, ['$.price: 10 → 12'], 'the bodies arrived intact')
  t.equal(rep.recent[0].path, '/api/price/1')
  t.throws(() => recorder.check('green'), { code: 'SHADOW_MISMATCH' })
  const text = await metrics.registry.metrics()
  t.match(text, /switchyard_mirror_requests_total\{app="shop",result="sent"\} 4/)
  t.match(text, /switchyard_mirror_requests_total\{app="shop",result="dropped"\} 2/)
  t.match(text, /switchyard_mirror_requests_total\{app="shop",result="error"\} 2/)
  t.match(text, /switchyard_shadow_comparisons_total\{app="shop",result="mismatch"\} 2/)
  t.match(text, /switchyard_shadow_comparisons_total\{app="shop",result="skipped"\} 4/, '2 skipped by the workers, 2 too big to compare')
})

t.test('at most MIRROR_PAIRS_PER_REPORT pairs per report; the rest are counted as skipped', async (t) => {
  const w = new MirrorRelay()
  for (let i = 0; i < MIRROR_PAIRS_PER_REPORT + 10; i++) w.answers(pair(`/p/${i}`, 10))
  const r = w.take()
  t.equal(r?.pairs.length, MIRROR_PAIRS_PER_REPORT)
  t.equal(r?.skipped, 10)
  w.answers(pair('/next', 10))
  t.equal(w.take()?.pairs.length, 1, 'the next report has room again')
})

t.test('at most maxBytes of bodies per report, but the first pair always goes', async (t) => {
  const w = new MirrorRelay(100, 1000)
  const big = Buffer.alloc(800, 1)
  const bigPair = pair('/big', 10, {
    live: { status: 200, headers: {}, body: big },
    idleAnswer: { status: 200, headers: {}, body: big },
  })
  w.answers(bigPair)
  w.answers(pair('/small', 10))
  let r = w.take()
  t.equal(r?.pairs.length, 1, 'a first pair over the budget still goes (its bodies are capped by maxBodyBytes)')
  t.equal(r?.skipped, 1, 'the next one waits for no budget: skipped')
  t.ok(Buffer.from(r?.pairs[0].live.body ?? '', 'base64').equals(big))
  for (let i = 0; i < 5; i++) w.answers(pair(`/s/${i}`, 10))
  r = w.take()
  t.equal(r?.pairs.length, 5, 'small pairs fit')
  t.equal(r?.skipped, 0)
})
