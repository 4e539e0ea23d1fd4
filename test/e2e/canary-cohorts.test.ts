import t, { type Test } from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { admin, baseConfig, startRouterProcess, writeConfig } from './router-process.js'
import { startColorServer } from './upstreams.js'

// Issue 3 end to end: the real router process, changed through its admin API
// over HTTP, serving real upstreams.

async function setup(t: Test, extra: Record<string, unknown> = {}) {
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(() => Promise.all([blue.close(), green.close()]))
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const router = await startRouterProcess(writeConfig(baseConfig(dir, [blue.url], [green.url], extra), dir))
  t.teardown(() => router.stop('SIGKILL'))
  return router
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers })
  const body = (await res.json()) as { color: string; cohort: string | null }
  return { status: res.status, body, color: res.headers.get('x-switchyard-color'), setCookie: res.headers.get('set-cookie') }
}

t.test('canary: the id cookie is issued once and keeps a user on one color', async (t) => {
  const r = await setup(t)
  const first = await get(r.proxyUrl)
  t.equal(first.setCookie, null, 'no cookie while nothing reads a key')
  t.equal((await admin(r.adminUrl, 'PUT', '/v1/canary', { percent: 50, force: true })).status, 200)
  const seen = new Set<string>()
  for (let i = 0; i < 40; i++) {
    const a = await get(r.proxyUrl)
    t.match(a.setCookie, /^switchyard-id=[^;]+; Path=\/; Max-Age=31536000; HttpOnly; SameSite=Lax$/)
    const cookie = a.setCookie!.split(';')[0]
    seen.add(a.body.color)
    for (let j = 0; j < 3; j++) {
      const again = await get(r.proxyUrl, { cookie })
      t.equal(again.body.color, a.body.color, 'the same user stays on the same color')
      t.equal(again.setCookie, null, 'no new cookie for a known user')
    }
  }
  t.same([...seen].sort(), ['blue', 'green'], '50% reaches both colors')
})

t.test('cohorts over the admin API: header cohort and a 100,000-user cohort', async (t) => {
  const r = await setup(t, { stickiness: { header: 'x-user-id' }, log: { level: 'info', access: true } })
  const staff = await admin(r.adminUrl, 'PUT', '/v1/cohorts/staff', { color: 'idle', match: { headers: { 'X-Staff': '1' } } })
  t.equal(staff.status, 200)
  const s = await get(r.proxyUrl, { 'x-staff': '1' })
  t.same([s.body.color, s.body.cohort, s.color], ['green', 'staff', 'green'], 'the upstream sees x-switchyard-cohort')
  t.equal((await get(r.proxyUrl)).body.cohort, null, 'others are not in it')
  // The line may reach us a moment after the response: poll with a deadline.
  const findLine = () => r.logs.find((l) => l.component === 'access' && l.cohort === 'staff')
  for (let i = 0; i < 100 && findLine() === undefined; i++) await new Promise((res) => setTimeout(res, 50))
  const line = findLine()
  t.match(
    line,
    { msg: 'request', method: 'GET', url: '/', status: 200, color: 'green', cohort: 'staff' },
    'log.access writes a line per request',
  )

  const users = Array.from({ length: 100_000 }, (_, i) => `user-${i}`)
  const big = await admin(r.adminUrl, 'PUT', '/v1/cohorts/beta', { color: 'green', match: { users } })
  t.equal(big.status, 200, JSON.stringify(big.json).slice(0, 200))
  for (const id of ['user-0', 'user-54321', 'user-99999']) {
    const m = await get(r.proxyUrl, { 'x-user-id': id })
    t.same([m.body.color, m.body.cohort], ['green', 'beta'], `${id} is in the beta cohort`)
  }
  const outsider = await get(r.proxyUrl, { 'x-user-id': 'user-100000' })
  t.same([outsider.body.color, outsider.body.cohort], ['blue', null])
  const explained = await admin(r.adminUrl, 'POST', '/v1/explain', { headers: { 'x-user-id': 'user-7' } })
  t.same([explained.json.color, explained.json.rule, explained.json.cohort], ['green', 'cohort', 'beta'])
  const removed = await admin(r.adminUrl, 'DELETE', '/v1/cohorts/beta')
  t.equal(removed.status, 200)
  t.equal((await get(r.proxyUrl, { 'x-user-id': 'user-7' })).body.color, 'blue', 'removing the cohort takes effect')
})

t.test('bad cohort bodies are refused with JSON and change nothing', async (t) => {
  const r = await setup(t)
  const before = (await admin(r.adminUrl, 'GET', '/v1/state')).json.version
  const bad: [string, unknown][] = [
    ['/v1/cohorts/x', { color: 'purple', match: {} }],
    ['/v1/cohorts/x', { color: 'green', match: { users: 'alice' } }],
    ['/v1/cohorts/x', { color: 'green', match: { headers: { a: 1 } } }],
    ['/v1/cohorts/x', { color: 'green', match: { percent: 101 } }],
    ['/v1/cohorts/x', { color: 'green' }],
    ['/v1/cohorts/%20', { color: 'green', match: {} }],
    ['/v1/cohorts/', { color: 'green', match: {} }],
  ]
  for (const [path, body] of bad) {
    const res = await admin(r.adminUrl, 'PUT', path, body)
    t.ok(res.status === 400 || res.status === 404, `${path} ${JSON.stringify(body)} → ${res.status}`)
    t.type(res.json?.error?.code, 'string', 'JSON error shape')
    t.type(res.json?.error?.message, 'string')
  }
  const raw = await fetch(r.adminUrl + '/v1/cohorts/x', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: '{"color":',
  })
  t.equal(raw.status, 400, 'invalid JSON')
  t.equal(((await raw.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST')
  const after = await admin(r.adminUrl, 'GET', '/v1/state')
  t.equal(after.json.version, before, 'the version is unchanged')
  t.same(after.json.cohorts, [], 'no cohort was stored')
})
