import t from 'tap'
import type { InjectOptions } from 'fastify'
import { SwitchyardError } from '../../src/errors.js'
import { adminFixture } from './helpers.js'

const TOKEN = 'a-very-secret-token-0123456789'
const json = { 'content-type': 'application/json' }

interface Case {
  name: string
  req: InjectOptions
  status: number
  code: string
  message?: RegExp
}

const cases: Case[] = [
  {
    name: 'invalid JSON',
    req: { method: 'POST', url: '/v1/flip', headers: json, payload: '{"to": "gre' },
    status: 400,
    code: 'BAD_REQUEST',
    message: /not valid JSON/,
  },
  {
    name: 'empty JSON body',
    req: { method: 'PUT', url: '/v1/canary', headers: json, payload: '' },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/percent is required/,
  },
  {
    name: 'JSON that is not an object',
    req: { method: 'PUT', url: '/v1/canary', payload: [1, 2] },
    status: 400,
    code: 'BAD_REQUEST',
    message: /^body must be object/,
  },
  {
    name: 'form body',
    req: { method: 'POST', url: '/v1/flip', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'to=green' },
    status: 415,
    code: 'BAD_REQUEST',
    message: /application\/json/,
  },
  {
    name: 'unknown color',
    req: { method: 'POST', url: '/v1/flip', payload: { to: 'red' } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/to must be one of: blue, green/,
  },
  {
    name: 'force is not a boolean',
    req: { method: 'POST', url: '/v1/flip', payload: { force: 'yes' } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/force must be boolean/,
  },
  {
    name: 'unknown flip field',
    req: { method: 'POST', url: '/v1/flip', payload: { color: 'green' } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /must not have property "color"/,
  },
  {
    name: 'percent as a string',
    req: { method: 'PUT', url: '/v1/canary', payload: { percent: '12' } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/percent must be number/,
  },
  {
    name: 'percent 101',
    req: { method: 'PUT', url: '/v1/canary', payload: { percent: 101 } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/percent must be <= 100/,
  },
  {
    name: 'percent -1',
    req: { method: 'PUT', url: '/v1/canary', payload: { percent: -1 } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/percent must be >= 0/,
  },
  {
    name: 'percent 12.345',
    req: { method: 'PUT', url: '/v1/canary', payload: { percent: 12.345 } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/percent must have at most two decimals/,
  },
  {
    name: 'percent missing',
    req: { method: 'PUT', url: '/v1/canary', payload: { reason: 'x' } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/percent is required/,
  },
  {
    name: 'reason not a string',
    req: { method: 'POST', url: '/v1/rollback', payload: { reason: 5 } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/reason must be string/,
  },
  {
    name: 'empty cohort name',
    req: { method: 'PUT', url: '/v1/cohorts/', payload: { color: 'green', match: {} } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /name/,
  },
  {
    name: 'bad cohort name',
    req: { method: 'PUT', url: '/v1/cohorts/-beta', payload: { color: 'green', match: {} } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /params\/name must be/,
  },
  {
    name: 'cohort name too long',
    req: { method: 'PUT', url: `/v1/cohorts/${'a'.repeat(65)}`, payload: { color: 'green', match: {} } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /params\/name/,
  },
  {
    name: 'cohort color unknown',
    req: { method: 'PUT', url: '/v1/cohorts/beta', payload: { color: 'purple', match: {} } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/color must be one of: blue, green, idle, live/,
  },
  {
    name: 'cohort without match',
    req: { method: 'PUT', url: '/v1/cohorts/beta', payload: { color: 'green' } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/match is required/,
  },
  {
    name: 'match headers not a map of strings',
    req: { method: 'PUT', url: '/v1/cohorts/beta', payload: { color: 'green', match: { headers: { 'x-a': 1 } } } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/match\/headers\/x-a must be string/,
  },
  {
    name: 'match header name invalid',
    req: { method: 'PUT', url: '/v1/cohorts/beta', payload: { color: 'green', match: { headers: { 'bad name': 'x' } } } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /bad name/,
  },
  {
    name: 'match cookies as a list',
    req: { method: 'PUT', url: '/v1/cohorts/beta', payload: { color: 'green', match: { cookies: ['a'] } } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/match\/cookies must be object/,
  },
  {
    name: 'match users not strings',
    req: { method: 'PUT', url: '/v1/cohorts/beta', payload: { color: 'green', match: { users: ['u1', 2] } } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/match\/users\/1 must be string/,
  },
  {
    name: 'match users a string',
    req: { method: 'PUT', url: '/v1/cohorts/beta', payload: { color: 'green', match: { users: 'u1' } } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/match\/users must be array/,
  },
  {
    name: 'match percent 100.5',
    req: { method: 'PUT', url: '/v1/cohorts/beta', payload: { color: 'green', match: { percent: 100.5 } } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/match\/percent must be <= 100/,
  },
  {
    name: 'match percent 0.001',
    req: { method: 'PUT', url: '/v1/cohorts/beta', payload: { color: 'green', match: { percent: 0.001 } } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/match\/percent must have at most two decimals/,
  },
  {
    name: 'match unknown key',
    req: { method: 'PUT', url: '/v1/cohorts/beta', payload: { color: 'green', match: { user: ['a'] } } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/match must not have property "user"/,
  },
  {
    name: 'delete unknown cohort',
    req: { method: 'DELETE', url: '/v1/cohorts/nobody', headers: json },
    status: 404,
    code: 'NOT_FOUND',
    message: /nobody/,
  },
  { name: 'get unknown cohort', req: { method: 'GET', url: '/v1/cohorts/nobody' }, status: 404, code: 'NOT_FOUND' },
  {
    name: 'stale If-Match',
    req: { method: 'PUT', url: '/v1/canary', headers: { 'if-match': '"1"' }, payload: { percent: 20 } },
    status: 412,
    code: 'VERSION_MISMATCH',
    message: /current version is 2/,
  },
  {
    name: 'stale bare If-Match',
    req: { method: 'POST', url: '/v1/flip', headers: { 'if-match': '1' }, payload: {} },
    status: 412,
    code: 'VERSION_MISMATCH',
  },
  {
    name: 'malformed If-Match',
    req: { method: 'POST', url: '/v1/flip', headers: { 'if-match': 'W/"2"' }, payload: {} },
    status: 400,
    code: 'BAD_REQUEST',
    message: /If-Match/,
  },
  {
    name: 'If-Match list',
    req: { method: 'DELETE', url: '/v1/cohorts/x', headers: { ...json, 'if-match': '"1", "2"' } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /If-Match/,
  },
  {
    name: 'history limit not a number',
    req: { method: 'GET', url: '/v1/history?limit=ten' },
    status: 400,
    code: 'BAD_REQUEST',
    message: /querystring\/limit/,
  },
  {
    name: 'explain headers not strings',
    req: { method: 'POST', url: '/v1/explain', payload: { headers: { 'x-user-id': 5 } } },
    status: 400,
    code: 'BAD_REQUEST',
    message: /body\/headers\/x-user-id must be string/,
  },
  { name: 'unknown route', req: { method: 'GET', url: '/v1/nope' }, status: 404, code: 'NOT_FOUND', message: /GET \/v1\/nope/ },
  { name: 'wrong method', req: { method: 'DELETE', url: '/v1/state', headers: json }, status: 404, code: 'NOT_FOUND' },
  { name: 'rollback with no previous', req: { method: 'POST', url: '/v1/rollback', payload: {} }, status: 409, code: 'NO_PREVIOUS' },
  {
    name: 'actor header too long',
    req: { method: 'POST', url: '/v1/flip', headers: { 'x-switchyard-actor': 'x'.repeat(300) }, payload: {} },
    status: 400,
    code: 'BAD_REQUEST',
    message: /x-switchyard-actor/,
  },
]

t.test('every bad input is a 4xx JSON refusal that changes nothing', async (t) => {
  const { app } = await adminFixture(t)
  // Version 2 and a canary, so stale If-Match and unchanged state mean something.
  const first = await app.inject({ method: 'PUT', url: '/v1/canary', payload: { percent: 5, force: true } })
  t.equal(first.statusCode, 200)
  const before = (await app.inject('/v1/state')).json()
  t.equal(before.version, 2)

  for (const c of cases) {
    const res = await app.inject(c.req)
    t.equal(res.statusCode, c.status, `${c.name}: status`)
    t.match(res.headers['content-type'], /^application\/json/, `${c.name}: JSON`)
    const body = res.json()
    t.equal(body.error?.code, c.code, `${c.name}: code`)
    t.type(body.error?.message, 'string', `${c.name}: message`)
    if (c.message) t.match(body.error.message, c.message, `${c.name}: message names the problem`)
    t.notOk(/\n\s+at /.test(body.error.message), `${c.name}: no stack`)
    const after = (await app.inject('/v1/state')).json()
    t.same(after, before, `${c.name}: state unchanged`)
  }
  const history = (await app.inject('/v1/history')).json()
  t.equal(history.entries.length, 1, 'only the first write is in the history')
})

t.test('smoke failure: 409 SMOKE_FAILED with the checks, state unchanged', async (t) => {
  const { app, smoke } = await adminFixture(t)
  smoke.ok = false
  for (const req of [
    { method: 'POST', url: '/v1/flip', payload: {} },
    { method: 'PUT', url: '/v1/canary', payload: { percent: 10 } },
  ] as const) {
    const res = await app.inject(req)
    t.equal(res.statusCode, 409)
    const { error } = res.json()
    t.equal(error.code, 'SMOKE_FAILED')
    t.match(error.message, /green/)
    t.match(error.details, {
      color: 'green',
      checks: [
        { path: '/health', ok: false, status: 500, error: 'status 500' },
        { path: '/ready', ok: true },
      ],
    })
  }
  t.equal((await app.inject('/v1/state')).json().version, 1)
  const forced = await app.inject({ method: 'POST', url: '/v1/flip', payload: { force: true } })
  t.equal(forced.statusCode, 200)
  t.equal(forced.json().state.live, 'green')
})

t.test('token: missing or wrong is 401 JSON; probes stay open', async (t) => {
  const { app } = await adminFixture(t, { token: TOKEN })
  const attempts: [string, Record<string, string>][] = [
    ['none', {}],
    ['wrong', { authorization: 'Bearer wrong-token-wrong-token-1' }],
    ['prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ['not bearer', { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` }],
    ['empty bearer', { authorization: 'Bearer ' }],
  ]
  for (const [name, headers] of attempts) {
    for (const req of [
      { method: 'GET', url: '/v1/state' },
      { method: 'POST', url: '/v1/flip', payload: { force: true } },
      { method: 'PUT', url: '/v1/cohorts/x', payload: { color: 'green', match: {} } },
      { method: 'GET', url: '/v1/unknown' },
      { method: 'GET', url: '/docs/json' },
    ] as const) {
      const res = await app.inject({ ...req, headers })
      t.equal(res.statusCode, 401, `${name} ${req.method} ${req.url}`)
      t.equal(res.json().error.code, 'UNAUTHORIZED')
      t.notOk(res.body.includes(TOKEN), 'the token is never echoed')
    }
  }
  const auth = { authorization: `Bearer ${TOKEN}` }
  t.equal((await app.inject({ url: '/v1/state', headers: auth })).json().version, 1, 'nothing changed')
  t.equal((await app.inject('/healthz')).statusCode, 200)
  t.equal((await app.inject('/readyz')).statusCode, 200)
  t.equal((await app.inject('/metrics')).statusCode, 401, '/metrics is not public by default')
  const ok = await app.inject({ method: 'POST', url: '/v1/flip', headers: { ...auth }, payload: { force: true } })
  t.equal(ok.statusCode, 200)
  t.equal(
    (await app.inject({ url: '/v1/state', headers: { authorization: `bearer ${TOKEN}` } })).statusCode,
    200,
    'scheme is case-insensitive',
  )
})

t.test('a failing store: 503 STORE_UNAVAILABLE, /readyz 503', async (t) => {
  let down: false | 'unavailable' | 'broken' = false
  const { app } = await adminFixture(t, {
    store: (s) => ({
      ...s,
      reachable: () => !down,
      commit: (n, e) =>
        down === 'broken'
          ? Promise.reject(new Error('boom'))
          : down === 'unavailable'
            ? Promise.reject(new SwitchyardError('STORE_UNAVAILABLE', 'redis at 127.0.0.1:6379 is unreachable'))
            : s.commit(n, e),
    }),
  })
  down = 'unavailable'
  const u = await app.inject({ method: 'POST', url: '/v1/flip', payload: { force: true } })
  t.equal(u.statusCode, 503)
  t.same(u.json(), { error: { code: 'STORE_UNAVAILABLE', message: 'redis at 127.0.0.1:6379 is unreachable' } })
  down = 'broken'
  const r = await app.inject({ method: 'PUT', url: '/v1/canary', payload: { percent: 5, force: true } })
  t.equal(r.statusCode, 500, 'an unexpected store error is INTERNAL')
  t.same(r.json(), { error: { code: 'INTERNAL', message: 'Internal error' } }, 'no stack, no detail')
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 503)
  t.match(ready.json(), { ready: false, reasons: ['file store unreachable'] })
  t.equal((await app.inject('/v1/state')).json().version, 1)
})
