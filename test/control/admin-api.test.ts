import t from 'tap'
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SwitchyardError } from '../../src/errors.js'
import { bucketOf, CANARY_SEED } from '../../src/routing/index.js'
import { adminFixture } from './helpers.js'

const TOKEN = 'another-secret-token-abcdefgh'

t.test('GET /v1/state with ETag and If-None-Match', async (t) => {
  const { app } = await adminFixture(t)
  const res = await app.inject('/v1/state')
  t.equal(res.statusCode, 200)
  t.equal(res.headers.etag, '"1"')
  t.match(res.json(), { version: 1, live: 'blue', previous: null, canary: 0, cohorts: [], rollout: null, lastFlipAt: null })
  const same = await app.inject({ url: '/v1/state', headers: { 'if-none-match': '"1"' } })
  t.equal(same.statusCode, 304)
  t.equal(same.body, '')
  const other = await app.inject({ url: '/v1/state', headers: { 'if-none-match': '"0", W/"7"' } })
  t.equal(other.statusCode, 200)
})

t.test('writes answer {changed, state, entry, converged} with the new ETag', async (t) => {
  const { app, smoke } = await adminFixture(t)
  const flip = await app.inject({
    method: 'POST',
    url: '/v1/flip',
    headers: { 'x-switchyard-actor': 'cli:ana', 'if-match': '"1"' },
    payload: { reason: 'release 1.4' },
  })
  t.equal(flip.statusCode, 200)
  t.equal(flip.headers.etag, '"2"')
  const body = flip.json()
  t.match(body, {
    changed: true,
    converged: true,
    state: { version: 2, live: 'green', previous: 'blue' },
    entry: { version: 2, action: 'flip', from: 'blue', to: 'green', actor: 'cli:ana', reason: 'release 1.4' },
  })
  t.same(smoke.calls, ['green'])

  // Same flip again: nothing to do.
  const again = await app.inject({ method: 'POST', url: '/v1/flip', payload: { to: 'green' } })
  t.same(again.json(), { changed: false, state: body.state, entry: null, converged: null })
  t.equal(again.headers.etag, '"2"')

  // No body at all (curl -X POST -H 'content-type: application/json') means no options; If-Match * means any version.
  const back = await app.inject({ method: 'POST', url: '/v1/rollback', headers: { 'if-match': '*', 'content-type': 'application/json' } })
  t.equal(back.statusCode, 200)
  t.match(back.json(), { state: { live: 'blue', version: 3 }, entry: { action: 'rollback', actor: 'admin-api', reason: null } })

  const canary = await app.inject({
    method: 'PUT',
    url: '/v1/canary',
    headers: { 'if-match': '3' },
    payload: { percent: 12.34, reason: 'try' },
  })
  t.equal(canary.statusCode, 200)
  t.match(canary.json(), { state: { canary: 12.34, version: 4 }, entry: { action: 'canary', from: 0, to: 12.34 } })
  // 0.29 * 100 is 28.999999999999996 in floats: still two decimals.
  const tricky = await app.inject({ method: 'PUT', url: '/v1/canary', payload: { percent: 0.29 } })
  t.equal(tricky.statusCode, 200)
  t.equal(tricky.json().state.canary, 0.29)
})

t.test('cohorts: put, get, list in order, replace in place, delete', async (t) => {
  const { app } = await adminFixture(t)
  const users = Array.from({ length: 50_000 }, (_, i) => `user-${i}`)
  const put = (name: string, payload: object) => app.inject({ method: 'PUT', url: `/v1/cohorts/${name}`, payload })
  t.equal((await put('beta', { color: 'green', match: { users } })).statusCode, 200)
  const staff = await put('staff.team_1', {
    color: 'idle',
    match: { headers: { 'X-Staff': 'yes' }, cookies: { plan: 'pro' }, percent: 50.5 },
    reason: 'dogfood',
  })
  t.equal(staff.statusCode, 200)
  t.match(staff.json().entry, { action: 'cohort', to: 'staff.team_1', reason: 'dogfood' })

  const one = await app.inject('/v1/cohorts/beta')
  t.equal(one.statusCode, 200)
  t.equal(one.json().match.users.length, 50_000)
  t.equal(one.headers.etag, '"3"')

  t.equal((await put('beta', { color: 'live', match: { percent: 1 } })).statusCode, 200)
  const list = await app.inject('/v1/cohorts')
  t.same(
    list.json().cohorts.map((c: { name: string; color: string }) => `${c.name}:${c.color}`),
    ['beta:live', 'staff.team_1:idle'],
  )
  t.equal(list.json().version, 4)

  const del = await app.inject({ method: 'DELETE', url: '/v1/cohorts/beta', headers: { 'content-type': 'application/json' } })
  t.equal(del.statusCode, 200)
  t.same(
    del.json().state.cohorts.map((c: { name: string }) => c.name),
    ['staff.team_1'],
  )
  t.equal(del.headers.etag, '"5"')
})

t.test('history: newest first, limit', async (t) => {
  const { app } = await adminFixture(t)
  for (const p of [1, 2, 3]) await app.inject({ method: 'PUT', url: '/v1/canary', payload: { percent: p, force: true } })
  await app.inject({ method: 'POST', url: '/v1/flip', payload: { force: true, reason: 'go' } })
  const all = (await app.inject('/v1/history')).json().entries
  t.same(
    all.map((e: { version: number }) => e.version),
    [5, 4, 3, 2],
  )
  t.same(
    all.map((e: { action: string }) => e.action),
    ['flip', 'canary', 'canary', 'canary'],
  )
  t.match(all[0], { at: '2025-01-01T00:00:00.000Z', from: 'blue', to: 'green', actor: 'admin-api', reason: 'go' })
  const two = (await app.inject('/v1/history?limit=2')).json().entries
  t.same(
    two.map((e: { version: number }) => e.version),
    [5, 4],
  )
})

t.test('explain: the decision and why', async (t) => {
  const { app } = await adminFixture(t)
  const explain = (payload: object) => app.inject({ method: 'POST', url: '/v1/explain', payload }).then((r) => r.json())

  t.same(await explain({}), { color: 'blue', rule: 'live', bucket: null, cohort: null, key: null, mirrorPercent: 0 })

  await app.inject({ method: 'PUT', url: '/v1/cohorts/staff', payload: { color: 'idle', match: { headers: { 'x-staff': '1' } } } })
  // Header names in any case, as a client would send them.
  t.same(await explain({ headers: { 'X-Staff': '1', 'X-User-Id': 'u1' } }), {
    color: 'green',
    rule: 'cohort',
    cohort: 'staff',
    bucket: bucketOf('u1', CANARY_SEED),
    key: 'u1',
    mirrorPercent: 0,
  })

  await app.inject({ method: 'PUT', url: '/v1/canary', payload: { percent: 100, force: true } })
  t.match(await explain({ headers: { 'x-user-id': 'u2' }, path: '/checkout' }), { color: 'green', rule: 'canary', key: 'u2' })

  // The router's own id cookie is a key too, read from `cookies` or a Cookie header.
  await app.inject({ method: 'PUT', url: '/v1/canary', payload: { percent: 0 } })
  t.match(await explain({ cookies: { 'switchyard-id': 'abc' } }), { rule: 'live', key: 'abc', bucket: bucketOf('abc', CANARY_SEED) })
  t.match(await explain({ headers: { Cookie: 'a=1; switchyard-id=xyz' } }), { key: 'xyz' })

  // Dark launch: the chance of a copy, for live-rule requests of a mirrored method only.
  const put = await app.inject({ method: 'PUT', url: '/v1/mirror', payload: { percent: 12.5 } })
  t.equal(put.statusCode, 200, put.body)
  t.match(await explain({}), { rule: 'live', mirrorPercent: 12.5 })
  t.match(await explain({ method: 'head' }), { mirrorPercent: 12.5 }, 'methods in any case, as node upper-cases them')
  t.match(await explain({ method: 'POST' }), { rule: 'live', mirrorPercent: 0 }, 'POST is not mirrored by default')
  t.match(await explain({ headers: { 'x-staff': '1' } }), { rule: 'cohort', mirrorPercent: 0 }, 'cohort traffic is never copied')
  const bad = await app.inject({ method: 'POST', url: '/v1/explain', payload: { method: '' } })
  t.equal(bad.statusCode, 400)
})

t.test('probes: healthz, readyz with extra readiness', async (t) => {
  let ready = false
  const { app } = await adminFixture(t, { token: TOKEN, ready: () => ({ ready, reasons: ready ? [] : ['proxy listener not bound'] }) })
  const h = await app.inject('/healthz')
  t.same(h.json(), { ok: true })
  const r1 = await app.inject('/readyz')
  t.equal(r1.statusCode, 503)
  t.same(r1.json(), { ready: false, reasons: ['proxy listener not bound'], version: 1 })
  ready = true
  const r2 = await app.inject('/readyz')
  t.equal(r2.statusCode, 200)
  t.same(r2.json(), { ready: true, reasons: [], version: 1 })
})

t.test('/docs/json is an OpenAPI document of the routes', async (t) => {
  const { app } = await adminFixture(t)
  const res = await app.inject('/docs/json')
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.match(doc.openapi, /^3\./)
  for (const p of [
    '/v1/state',
    '/v1/flip',
    '/v1/rollback',
    '/v1/canary',
    '/v1/cohorts',
    '/v1/cohorts/{name}',
    '/v1/history',
    '/v1/explain',
    '/healthz',
    '/readyz',
  ]) {
    t.ok(doc.paths[p], `documents ${p}`)
  }
  t.notOk(doc.paths['/docs/json'], 'the document does not list itself')
  t.ok(doc.paths['/v1/canary'].put.requestBody, 'bodies are documented')
  t.equal(doc.paths['/v1/canary'].put.requestBody.content['application/json'].schema.properties.percent.maximum, 100)
})

t.test('plugins share auth, error handling and the OpenAPI document', async (t) => {
  const plugin: FastifyPluginAsyncTypebox = async (app) => {
    app.post(
      '/v1/plugin/smoke',
      {
        schema: { body: Type.Object({ color: Type.Optional(Type.String({ enum: ['blue', 'green'] })) }, { additionalProperties: false }) },
      },
      async (req) => ({
        ran: req.body.color ?? 'idle',
      }),
    )
    app.post('/v1/plugin/abort', async () => {
      throw new SwitchyardError('NO_ROLLOUT')
    })
    app.get('/metrics', async (_req, reply) => reply.type('text/plain').send('switchyard_state_version 1\n'))
    app.get('/v1/boom', async () => {
      throw new Error('secret internals')
    })
  }
  const { app } = await adminFixture(t, { token: TOKEN, metricsPublic: true, app: { plugins: [plugin] } })
  const auth = { authorization: `Bearer ${TOKEN}` }
  t.equal((await app.inject({ method: 'POST', url: '/v1/plugin/smoke', payload: {} })).statusCode, 401, 'auth applies to plugins')
  const ok = await app.inject({ method: 'POST', url: '/v1/plugin/smoke', headers: auth, payload: { color: 'green' } })
  t.same(ok.json(), { ran: 'green' })
  const bad = await app.inject({ method: 'POST', url: '/v1/plugin/smoke', headers: auth, payload: { color: 'red' } })
  t.equal(bad.statusCode, 400)
  t.same(bad.json(), { error: { code: 'BAD_REQUEST', message: 'body/color must be one of: blue, green' } })
  const nr = await app.inject({ method: 'POST', url: '/v1/plugin/abort', headers: { ...auth, 'content-type': 'application/json' } })
  t.equal(nr.statusCode, 409)
  t.equal(nr.json().error.code, 'NO_ROLLOUT')
  const boom = await app.inject({ url: '/v1/boom', headers: auth })
  t.equal(boom.statusCode, 500)
  t.same(boom.json(), { error: { code: 'INTERNAL', message: 'Internal error' } })
  const metrics = await app.inject('/metrics')
  t.equal(metrics.statusCode, 200, 'metricsPublic leaves /metrics open')
  t.match(metrics.body, /switchyard_state_version/)
  const doc = (await app.inject({ url: '/docs/json', headers: auth })).json()
  t.ok(doc.paths['/v1/plugin/smoke'], 'plugin routes are documented')
})
