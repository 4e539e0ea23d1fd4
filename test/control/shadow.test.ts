import t from 'tap'
import { validateConfig } from '../../src/config/index.js'
import { MAX_ROUTES, RECENT_MISMATCHES, ShadowRecorder } from '../../src/control/shadow.js'
import type { ShadowPair } from '../../src/dataplane/index.js'
import { isSwitchyardError } from '../../src/errors.js'
import type { Color } from '../../src/routing/index.js'

function recorder(compare: Record<string, unknown> = {}) {
  const config = validateConfig({
    upstreams: { blue: { targets: ['http://127.0.0.1:1'] }, green: { targets: ['http://127.0.0.1:2'] } },
    mirror: { compare: { minSamples: 4, maxMismatchRate: 0.25, ignoreJsonFields: ['ts'], ...compare } },
  })
  let live: Color = 'blue'
  const tally = { sent: 0, dropped: 0, error: 0, match: 0, mismatch: 0, skipped: 0 }
  const r = new ShadowRecorder({
    settings: config.apps[0].mirror,
    clock: () => Date.parse('2026-01-01T00:00:00Z'),
    live: () => live,
    tally,
  })
  return { r, tally, setLive: (c: Color) => (live = c) }
}

const answer = (price: number, ts = 1) => ({
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: Buffer.from(JSON.stringify({ price, ts })),
})
const pair = (url: string, idlePrice: number, idle: Color = 'green'): ShadowPair => ({
  method: 'GET',
  url,
  idle,
  live: answer(10, 1),
  idleAnswer: answer(idlePrice, 2),
})

t.test('counts, rate by route, recent mismatches, the gate', async (t) => {
  const { r, tally } = recorder()
  r.mirror('sent')
  r.mirror('dropped')
  r.mirror('error')
  r.answers(pair('/api/price/1?token=abc', 12))
  r.answers(pair('/api/price/2', 10))
  r.answers(pair('/api/items', 10))
  r.skipped()
  t.equal(r.verdict().refuse, false, 'three samples: under minSamples, no verdict')
  t.doesNotThrow(() => r.check('green'))
  r.answers(pair('/api/items', 10))
  const rep = r.report(5)
  t.match(rep, {
    percent: 5,
    samples: 4,
    matches: 3,
    mismatches: 1,
    skipped: 1,
    errors: 1,
    dropped: 1,
    sent: 1,
    mismatchRate: 0.25,
    refusing: false,
  })
  t.same(rep.routes[0], { route: 'GET /api/price/:id', samples: 2, mismatches: 1, mismatchRate: 0.5 }, 'worst route first')
  t.same(rep.recent[0], {
    at: '2026-01-01T00:00:00.000Z',
    method: 'GET',
    path: '/api/price/1',
    route: 'GET /api/price/:id',
    live: { status: 200 },
    idle: { status: 200, color: 'green' },
    diff: ['$.price: 10 → 12'],
  })
  t.same(tally, { sent: 1, dropped: 1, error: 1, match: 3, mismatch: 1, skipped: 1 })
  r.answers(pair('/api/price/3', 13))
  t.equal(r.verdict().refuse, true, '2 of 5 = 40% > 25%')
  let err: unknown = null
  try {
    r.check('green')
  } catch (e) {
    err = e
  }
  t.ok(isSwitchyardError(err) && err.code === 'SHADOW_MISMATCH', 'SHADOW_MISMATCH')
  t.match((err as { details: unknown }).details, {
    color: 'green',
    samples: 5,
    mismatches: 2,
    mismatchRate: 0.4,
    maxMismatchRate: 0.25,
    minSamples: 4,
  })
  t.doesNotThrow(() => r.check('blue'), 'nothing to say about the live color')
  r.reset()
  t.match(r.report(5), { samples: 0, mismatches: 0, sent: 0, routes: [], recent: [] })
  t.equal(tally.mismatch, 2, 'metrics are never reset')
})

t.test('answers of copies sent before a flip are dropped', async (t) => {
  const { r, setLive } = recorder()
  setLive('green')
  r.answers(pair('/x', 99, 'green'))
  t.equal(r.report(0).samples, 0)
})

t.test('compare disabled: no refusal', async (t) => {
  const { r } = recorder({ enabled: false })
  for (let i = 0; i < 10; i++) r.answers(pair('/x', 11))
  t.equal(r.verdict().refuse, false)
})

t.test('bounded: 200 routes then other, 50 recent', async (t) => {
  const { r } = recorder()
  for (let i = 0; i < MAX_ROUTES + 20; i++) r.answers(pair(`/r${i}`, 11))
  const rep = r.report(1)
  t.equal(rep.routes.length, MAX_ROUTES + 1)
  t.match(
    rep.routes.find((x) => x.route === 'other'),
    { samples: 20 },
  )
  t.equal(rep.recent.length, RECENT_MISMATCHES)
  t.equal(rep.recent[0].path, `/r${MAX_ROUTES + 19}`, 'newest first')
  r.reconfigure(
    validateConfig({ upstreams: { blue: { targets: ['http://127.0.0.1:1'] }, green: { targets: ['http://127.0.0.1:2'] } } }).apps[0].mirror,
  )
  t.equal(r.report(1).minSamples, 50, 'a reload replaces the settings, counters carry on')
  t.equal(r.report(1).samples, MAX_ROUTES + 20)
})
