import t from 'tap'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { createSmokeRunner } from '../../src/control/smoke.js'
import type { SmokeCheckConfig } from '../../src/config/index.js'
import { server } from './helpers.js'

const check = (over: Partial<SmokeCheckConfig> = {}): SmokeCheckConfig => ({
  path: '/health',
  method: 'GET',
  expectStatus: 200,
  timeoutMs: 5000,
  ...over,
})

/** A port nobody listens on: bind one, then close it. */
async function deadPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as AddressInfo
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

t.test('no checks configured: ok with an empty list', async (t) => {
  const smoke = createSmokeRunner({
    checks: [],
    upstreams: { blue: { targets: ['http://127.0.0.1:1'] }, green: { targets: ['http://127.0.0.1:1'] } },
  })
  t.teardown(() => smoke.close())
  t.same(await smoke.run('green'), { color: 'green', ok: true, checks: [] })
})

t.test('every target of the color is checked; a 500 on one fails the report', async (t) => {
  const seen: string[] = []
  const good = await server(t, (req, res) => {
    seen.push(`good ${req.method} ${req.url} ${String(req.headers['x-switchyard-smoke'])}`)
    res.end('status: ok')
  })
  const bad = await server(t, (req, res) => {
    seen.push(`bad ${req.method} ${req.url}`)
    res.statusCode = req.url === '/health' ? 500 : 200
    res.end('fine')
  })
  const smoke = createSmokeRunner({
    checks: [check(), check({ path: '/ready?x=1' })],
    upstreams: { blue: { targets: [good.url] }, green: { targets: [good.url, `${bad.url}/`] } },
  })
  t.teardown(() => smoke.close())

  const green = await smoke.run('green')
  t.equal(green.color, 'green')
  t.equal(green.ok, false)
  t.equal(green.checks.length, 4, '2 checks × 2 targets')
  const byKey = new Map(green.checks.map((c) => [`${c.target} ${c.path}`, c]))
  t.match(byKey.get(`${good.url} /health`), { ok: true, status: 200, error: null })
  t.match(byKey.get(`${bad.url}/ /health`), { ok: false, status: 500, error: 'expected status 200, got 500' })
  t.match(byKey.get(`${bad.url}/ /ready?x=1`), { ok: true, status: 200 })
  for (const c of green.checks) t.type(c.ms, 'number')
  t.ok(seen.includes('good GET /health 1'), 'the check marks itself with x-switchyard-smoke')
  t.ok(seen.includes('bad GET /ready?x=1'), 'the query string is kept')

  const blue = await smoke.run('blue')
  t.equal(blue.ok, true)
  t.equal(blue.checks.length, 2)
})

t.test('bodyIncludes, expectStatus and HEAD', async (t) => {
  const up = await server(t, (req, res) => {
    if (req.url === '/maint') {
      res.statusCode = 503
      res.end('maintenance')
      return
    }
    res.end(req.url === '/health' ? '{"status":"ok"}' : '{"status":"degraded"}')
  })
  const smoke = createSmokeRunner({
    checks: [
      check({ bodyIncludes: '"ok"' }),
      check({ path: '/deep', bodyIncludes: '"ok"' }),
      check({ path: '/maint', expectStatus: 503, bodyIncludes: 'maint' }),
      check({ method: 'HEAD' }),
    ],
    upstreams: { blue: { targets: [up.url] }, green: { targets: [up.url] } },
  })
  t.teardown(() => smoke.close())
  const r = await smoke.run('blue')
  t.equal(r.ok, false)
  t.match(r.checks[0], { path: '/health', ok: true, status: 200 })
  t.match(r.checks[1], { path: '/deep', ok: false, status: 200, error: 'body does not include "\\"ok\\""' })
  t.match(r.checks[2], { path: '/maint', ok: true, status: 503 })
  t.match(r.checks[3], { path: '/health', ok: true, status: 200 })
})

t.test('a hanging upstream times out; a dead port fails with the reason', async (t) => {
  const hang = await server(t, () => {
    // never answers; the helper closes the socket at teardown
  })
  const port = await deadPort()
  const smoke = createSmokeRunner({
    checks: [check({ timeoutMs: 300 })],
    upstreams: { blue: { targets: [hang.url] }, green: { targets: [`http://127.0.0.1:${port}`] } },
  })
  t.teardown(() => smoke.close())
  const blue = await smoke.run('blue')
  t.match(blue, { ok: false, checks: [{ ok: false, status: null, error: 'timed out after 300 ms' }] })
  const green = await smoke.run('green')
  t.equal(green.ok, false)
  t.equal(green.checks[0].status, null)
  t.match(green.checks[0].error, /ECONNREFUSED/)
})

t.test('a body that never ends times out too', async (t) => {
  const up = await server(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('partial ')
  })
  const smoke = createSmokeRunner({
    checks: [check({ timeoutMs: 300, bodyIncludes: 'done' })],
    upstreams: { blue: { targets: [up.url] }, green: { targets: [up.url] } },
  })
  t.teardown(() => smoke.close())
  const r = await smoke.run('green')
  t.match(r.checks[0], { ok: false, status: 200, error: 'timed out after 300 ms' })
})
