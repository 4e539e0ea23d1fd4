import t from 'tap'
import type { ShadowPair } from '../../src/dataplane/index.js'
import { adminFixture } from './helpers.js'

const json = { 'content-type': 'application/json' }
const answer = (price: number) => ({
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: Buffer.from(`{"price":${price}}`),
})
const pair = (idlePrice: number): ShadowPair => ({
  method: 'GET',
  url: '/api/price',
  idle: 'green',
  live: answer(10),
  idleAnswer: answer(idlePrice),
})

t.test('PUT /v1/mirror: stored in the state, recorded in history, validated', async (t) => {
  const { app, service } = await adminFixture(t)
  const res = await app.inject({ method: 'PUT', url: '/v1/mirror', headers: json, payload: { percent: 10, reason: 'dark launch 1.4' } })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { changed: true, state: { mirror: 10 }, entry: { action: 'mirror', from: 0, to: 10, reason: 'dark launch 1.4' } })
  t.equal(service.state.mirror, 10)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/mirror', headers: json, payload: { percent: 10 } })).json().changed, false)
  const history = (await app.inject({ url: '/v1/history' })).json()
  t.equal(history.entries[0].action, 'mirror')
  t.equal((await app.inject({ url: '/v1/state' })).json().mirror, 10, 'GET /v1/state shows it')
  for (const [payload, msg] of [
    [{ percent: 101 }, /<= 100/],
    [{ percent: 1.234 }, /two decimals/],
    [{}, /percent is required/],
    [{ percent: 5, force: true }, /must not have property "force"/],
  ] as const) {
    const bad = await app.inject({ method: 'PUT', url: '/v1/mirror', headers: json, payload })
    t.equal(bad.statusCode, 400)
    t.match(bad.json().error.message, msg)
  }
})

t.test(
  'the flip gate: SHADOW_MISMATCH with the figures for flip, canary and rollout; force skips; a flip clears the counters',
  async (t) => {
    const { app, service, shadow, smoke } = await adminFixture(t)
    for (let i = 0; i < 49; i++) shadow.answers(pair(12))
    const early = await app.inject({ method: 'POST', url: '/v1/flip', headers: json, payload: { to: 'blue' } })
    t.equal(early.statusCode, 200, 'a flip to the live color is never gated')
    t.match(
      (await app.inject({ url: '/v1/shadow' })).json(),
      { samples: 49, mismatches: 49, refusing: false },
      'under minSamples: no verdict',
    )
    shadow.answers(pair(12))
    const shadowView = (await app.inject({ url: '/v1/shadow' })).json()
    t.match(shadowView, {
      samples: 50,
      mismatches: 50,
      mismatchRate: 1,
      refusing: true,
      routes: [{ route: 'GET /api/price', samples: 50 }],
    })
    t.equal(shadowView.recent.length, 50)
    t.same(shadowView.recent[0].diff, ['$.price: 10 → 12'])

    const callsBefore = smoke.calls.length
    for (const [method, url, payload] of [
      ['POST', '/v1/flip', {}],
      ['PUT', '/v1/canary', { percent: 5 }],
      ['POST', '/v1/rollout', { steps: [{ percent: 10, holdSeconds: 1 }] }],
    ] as const) {
      const res = await app.inject({ method, url, headers: json, payload })
      t.equal(res.statusCode, 409, `${url} refused`)
      t.match(res.json().error, {
        code: 'SHADOW_MISMATCH',
        details: { color: 'green', samples: 50, mismatches: 50, mismatchRate: 1, maxMismatchRate: 0.01, minSamples: 50 },
      })
    }
    t.equal(smoke.calls.length, callsBefore, 'refused before any smoke check ran')
    t.equal(service.state.live, 'blue')
    t.equal(service.state.canary, 0)

    const forced = await app.inject({ method: 'POST', url: '/v1/flip', headers: json, payload: { force: true } })
    t.equal(forced.statusCode, 200)
    t.equal(service.state.live, 'green')
    t.match((await app.inject({ url: '/v1/shadow' })).json(), { samples: 0, mismatches: 0, recent: [] }, 'the flip cleared the counters')
  },
)

t.test('POST /v1/shadow/reset clears the counters', async (t) => {
  const { app, shadow } = await adminFixture(t)
  for (let i = 0; i < 60; i++) shadow.answers(pair(i % 2 === 0 ? 10 : 11))
  t.match((await app.inject({ url: '/v1/shadow' })).json(), { samples: 60, matches: 30, mismatches: 30, refusing: true })
  const res = await app.inject({ method: 'POST', url: '/v1/shadow/reset', headers: json })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { samples: 0, refusing: false, routes: [], recent: [] })
  t.equal((await app.inject({ method: 'POST', url: '/v1/flip', headers: json, payload: {} })).statusCode, 200, 'no verdict after a reset')
})
