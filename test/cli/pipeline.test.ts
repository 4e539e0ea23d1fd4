import t from 'tap'
import { createServer } from 'node:net'
import { EXIT } from '../../src/cli/client.js'
import { fakeAdmin, writeAnswer } from './fake-admin.js'

const err = (code: string, message = 'no') => ({ error: { code, message } })

t.test('exit codes follow the contract, and --json prints every outcome on stdout', async (t) => {
  let reply: { status: number; json?: unknown; text?: string } = { status: 200 }
  const { run } = await fakeAdmin(t, () => reply)
  const cases: [string, typeof reply, number, string][] = [
    ['done', { status: 200, json: writeAnswer(2) }, EXIT.OK, ''],
    ['nothing to change', { status: 200, json: writeAnswer(1, null, false) }, EXIT.OK, ''],
    ['smoke failed', { status: 409, json: err('SMOKE_FAILED') }, EXIT.REFUSED, 'SMOKE_FAILED'],
    ['stale version', { status: 412, json: err('VERSION_MISMATCH') }, EXIT.REFUSED, 'VERSION_MISMATCH'],
    ['bad request', { status: 400, json: err('BAD_REQUEST') }, EXIT.REFUSED, 'BAD_REQUEST'],
    ['foreign origin', { status: 403, json: err('FORBIDDEN_ORIGIN') }, EXIT.REFUSED, 'FORBIDDEN_ORIGIN'],
    ['unauthorized', { status: 401, json: err('UNAUTHORIZED') }, EXIT.UNAUTHORIZED, 'UNAUTHORIZED'],
    ['store down', { status: 503, json: err('STORE_UNAVAILABLE') }, EXIT.UNAVAILABLE, 'STORE_UNAVAILABLE'],
    ['internal', { status: 500, json: err('INTERNAL') }, EXIT.UNAVAILABLE, 'INTERNAL'],
    ['a proxy in between', { status: 502, text: '<html>Bad Gateway</html>' }, EXIT.UNAVAILABLE, 'HTTP_ERROR'],
  ]
  for (const [name, r, exit, code] of cases) {
    reply = r
    const human = await run(['flip', '--to', 'green'])
    t.equal(human.code, exit, `${name}: exit ${exit}`)
    if (code !== '')
      t.match(
        human.err,
        code === 'HTTP_ERROR' ? /^error: HTTP 502 from http:\/\/127\.0\.0\.1:\d+: <html>Bad Gateway/ : code,
        `${name}: names the problem`,
      )
    const json = await run(['flip', '--to', 'green', '--json'])
    t.equal(json.code, exit, `${name} --json: exit ${exit}`)
    const parsed = JSON.parse(json.out)
    if (code === '') t.match(parsed, { state: { version: Number } }, `${name}: the answer as JSON`)
    else t.equal(parsed.error.code, code, `${name}: JSON error on stdout`)
  }
  const usage = await run(['flip', '--to', 'red', '--json'])
  t.equal(usage.code, EXIT.USAGE)
  t.match(JSON.parse(usage.out), { error: { code: 'USAGE', message: /--to must be one of blue, green/ } })
  t.match(usage.err, /^usage error: --to must be one of/)
  const badOption = await run(['--json', 'flip', '--colour', 'red'])
  t.equal(badOption.code, EXIT.USAGE)
  t.equal(JSON.parse(badOption.out).error.code, 'USAGE', 'also when parsing fails')
})

t.test('an unreachable router: exit 4, JSON on stdout with --json', async (t) => {
  const port = await new Promise<number>((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as { port: number }
      s.close(() => resolve(a.port))
    })
  })
  const { run } = await fakeAdmin(t, () => undefined)
  const r = await run(['status', '--json', '--admin', `http://127.0.0.1:${port}`])
  t.equal(r.code, EXIT.UNAVAILABLE)
  t.match(JSON.parse(r.out), { error: { code: 'UNREACHABLE', message: new RegExp(`127\\.0\\.0\\.1:${port}: ECONNREFUSED`) } })
})

t.test('--wait: returns once every instance applied the version', async (t) => {
  let polls = 0
  const { run, seen } = await fakeAdmin(t, (req) => {
    if (req.path === '/v1/flip') return { json: writeAnswer(7, false) }
    if (req.path === '/v1/instances') {
      polls++
      return {
        json: {
          instances: [
            { id: 'a', appliedVersion: 7, lastSeen: 'x' },
            { id: 'b', appliedVersion: polls >= 3 ? 7 : 6, lastSeen: 'x' },
          ],
        },
      }
    }
    return undefined
  })
  const plain = await run(['flip', '--to', 'green'])
  t.equal(plain.code, EXIT.OK, 'without --wait a write that has not converged is still done')
  t.match(plain.out, /^live: green .*version: 7\nconverged: false/)
  t.equal(seen.filter((s) => s.path === '/v1/instances').length, 0, 'and nothing is polled')

  const waited = await run(['flip', '--to', 'green', '--wait'])
  t.equal(waited.code, EXIT.OK, waited.err)
  t.notMatch(waited.out, /converged: false/)
  t.equal(polls, 3, 'polled until instance b caught up')
  polls = 0
  const json = await run(['flip', '--to', 'green', '--wait', '--json'])
  t.equal(JSON.parse(json.out).converged, true, 'the JSON says it converged')
})

t.test('--wait: times out with exit 4 naming the instances behind', async (t) => {
  const { run } = await fakeAdmin(t, (req) => {
    if (req.path === '/v1/canary') return { json: writeAnswer(9, false) }
    if (req.path === '/v1/instances')
      return {
        json: {
          instances: [
            { id: 'a', appliedVersion: 9 },
            { id: 'host-b:42', appliedVersion: 8 },
          ],
        },
      }
    return undefined
  })
  const r = await run(['canary', '10', '--wait-timeout', '0.3'])
  t.equal(r.code, EXIT.UNAVAILABLE)
  t.match(r.out, /converged: false/)
  t.match(r.err, /^error: not every router instance applied version 9 within 0\.3 s \(behind: host-b:42 at 8\)/)
  const j = await run(['canary', '10', '--wait-timeout', '0.3', '--json'])
  t.equal(j.code, EXIT.UNAVAILABLE)
  t.match(JSON.parse(j.out), {
    error: {
      code: 'NOT_CONVERGED',
      details: { version: 9, lagging: [{ id: 'host-b:42', appliedVersion: 8 }], answer: { converged: false } },
    },
  })
  const usage = await run(['status', '--wait'])
  t.equal(usage.code, EXIT.USAGE)
  t.match(usage.err, /status does not take --wait/)
  const ls = await run(['cohort', 'ls', '--wait'])
  t.equal(ls.code, EXIT.USAGE)
  t.match(ls.err, /cohort ls does not take --wait/)
  t.equal((await run(['canary', '10', '--wait-timeout', 'soon'])).code, EXIT.USAGE)
})

t.test('--app and SWITCHYARD_APP address /v1/apps/<app>/...; without one, the short form', async (t) => {
  const { run, seen } = await fakeAdmin(t, (req) => {
    if (req.method === 'GET' && /\/rollout$/.test(req.path)) return { json: { rollout: null, progress: null } }
    if (req.method === 'GET' && /\/history/.test(req.path)) return { json: { entries: [] } }
    if (req.method === 'GET' && /\/cohorts$/.test(req.path)) return { json: { cohorts: [] } }
    if (req.method === 'GET' && /\/instances$/.test(req.path)) return { json: { instances: [] } }
    if (req.method === 'GET' && /\/apps$/.test(req.path)) return { json: { apps: [] } }
    if (req.method === 'GET' && /\/(state|health)$/.test(req.path)) return { json: writeAnswer(2).state }
    return { json: writeAnswer(2) }
  })
  const cases: [string[], string, string][] = [
    [['status'], 'GET', 'state'],
    [['flip', '--to', 'blue'], 'POST', 'flip'],
    [['rollback'], 'POST', 'rollback'],
    [['canary', '5'], 'PUT', 'canary'],
    [['cohort', 'set', 'beta', '--color', 'green'], 'PUT', 'cohorts/beta'],
    [['cohort', 'rm', 'beta'], 'DELETE', 'cohorts/beta'],
    [['cohort', 'ls'], 'GET', 'cohorts'],
    [['history', '--limit', '3'], 'GET', 'history?limit=3'],
    [['smoke', 'blue'], 'POST', 'smoke'],
    [['explain', '--path', '/x'], 'POST', 'explain'],
    [['rollout', 'start', '--steps', '10:60'], 'POST', 'rollout'],
    [['rollout', 'pause'], 'POST', 'rollout/pause'],
    [['rollout', 'status'], 'GET', 'rollout'],
    [['health'], 'GET', 'health'],
  ]
  for (const [argv, method, path] of cases) {
    seen.length = 0
    await run(argv)
    t.match(seen[0], { method, path: `/v1/${path}` }, `${argv.join(' ')}: short form`)
    seen.length = 0
    await run([...argv, '--app', 'shop'])
    t.match(seen[0], { method, path: `/v1/apps/shop/${path}` }, `${argv.join(' ')} --app shop`)
    seen.length = 0
    await run(argv, { SWITCHYARD_APP: 'blog-2' })
    t.match(seen[0], { method, path: `/v1/apps/blog-2/${path}` }, `${argv.join(' ')} with SWITCHYARD_APP`)
  }
  seen.length = 0
  await run(['status', '--app', 'shop'], { SWITCHYARD_APP: 'blog' })
  t.equal(seen[0].path, '/v1/apps/shop/state', '--app beats the environment')
  seen.length = 0
  await run(['instances'], { SWITCHYARD_APP: 'shop' })
  await run(['apps'], { SWITCHYARD_APP: 'shop' })
  t.same(
    seen.map((s) => s.path),
    ['/v1/instances', '/v1/apps'],
    'instances and apps are global',
  )

  seen.length = 0
  for (const [argv, env, message] of [
    [['status', '--app', 'Shop'], {}, /--app must be an app name/],
    [['status', '--app=-shop'], {}, /--app must be an app name/],
    [['status', '--app', 'a'.repeat(64)], {}, /--app must be an app name/],
    [['status'], { SWITCHYARD_APP: 'shop/../x' }, /SWITCHYARD_APP must be an app name/],
    [['apps', '--app', 'shop'], {}, /apps does not take --app/],
  ] as const) {
    const r = await run([...argv], { ...env })
    t.equal(r.code, EXIT.USAGE, argv.join(' '))
    t.match(r.err, message)
  }
  t.equal(seen.length, 0, 'nothing was sent')
})

t.test('APP_REQUIRED and UNKNOWN_APP: a line that names --app, SWITCHYARD_APP and the apps', async (t) => {
  const { run } = await fakeAdmin(t, (req) => {
    if (req.path === '/v1/apps') return { json: { apps: [{ name: 'shop' }, { name: 'blog' }] } }
    if (req.path === '/v1/state') return { status: 400, json: err('APP_REQUIRED', 'This router serves several apps: name one') }
    if (req.path === '/v1/apps/nope/state') return { status: 404, json: err('UNKNOWN_APP', 'No app named "nope"') }
    return undefined
  })
  const r = await run(['status'])
  t.equal(r.code, EXIT.REFUSED)
  t.match(r.err, /^error APP_REQUIRED: This router serves several apps: name one\n/)
  t.match(r.err, /this router serves several apps \(shop, blog\): name one with --app <name> or SWITCHYARD_APP=<name>/)
  const j = await run(['status', '--json'])
  t.equal(JSON.parse(j.out).error.code, 'APP_REQUIRED')
  const u = await run(['status', '--app', 'nope'])
  t.equal(u.code, EXIT.REFUSED)
  t.match(u.err, /"nope" is not one of this router's apps \(shop, blog\)/)
})

t.test('apps: a table with hosts, live, canary, version, error rates and rollout', async (t) => {
  const { run } = await fakeAdmin(t, (req) =>
    req.path === '/v1/apps'
      ? {
          json: {
            apps: [
              {
                name: 'shop',
                hosts: ['shop.example.com', '*.shop.example.com'],
                live: 'blue',
                canary: 10,
                version: 12,
                updatedAt: 'x',
                rollout: {
                  color: 'green',
                  status: 'running',
                  stepIndex: 1,
                  steps: [
                    { percent: 10, holdSeconds: 60 },
                    { percent: 50, holdSeconds: 60 },
                  ],
                  autoPromote: true,
                  startedAt: 'x',
                  stepStartedAt: 'x',
                },
                colors: { blue: { requests: 1000, errors: 2, errorRate: 0.002 }, green: { requests: 100, errors: 5, errorRate: 0.05 } },
              },
              {
                name: 'blog',
                hosts: ['blog.example.com'],
                live: 'green',
                canary: 0,
                version: 3,
                rollout: null,
                updatedAt: 'x',
                colors: { blue: { requests: 0, errors: 0, errorRate: 0 }, green: { requests: 0, errors: 0, errorRate: 0 } },
              },
            ],
          },
        }
      : undefined,
  )
  const r = await run(['apps'])
  t.equal(r.code, EXIT.OK, r.err)
  const lines = r.out.trimEnd().split('\n')
  t.match(lines[0], /^APP +HOSTS +LIVE +CANARY +VERSION +BLUE ERR +GREEN ERR +ROLLOUT$/)
  t.match(lines[1], /^shop +shop\.example\.com,\*\.shop\.example\.com +blue +10% +12 +0\.2% +5\.0% +running 2\/2 \(50%\)$/)
  t.match(lines[2], /^blog +blog\.example\.com +green +0% +3 +0\.0% +0\.0% +-$/)
  const j = await run(['apps', '--json'])
  t.equal(JSON.parse(j.out).apps.length, 2)
})

t.test('reload: what changed; CONFIG_INVALID lists each problem and exits 1', async (t) => {
  let invalid = false
  const { run, seen } = await fakeAdmin(t, (req) => {
    if (req.path !== '/v1/reload' || req.method !== 'POST') return undefined
    if (invalid)
      return {
        status: 400,
        json: {
          error: {
            code: 'CONFIG_INVALID',
            message: 'invalid config',
            details: { errors: ['apps.shop.upstreams.blue: required', 'apps.blog.hosts.0: must be a host name'] },
          },
        },
      }
    return { json: { added: ['blog'], removed: [], changed: ['shop'], needsRestart: ['admin.port'] } }
  })
  const ok = await run(['reload'])
  t.equal(ok.code, EXIT.OK)
  t.equal(
    ok.out,
    'config reloaded\n  added:    blog\n  removed:  -\n  changed:  shop\n  needs a restart to apply: admin.port (listener, admin and store settings are not reloaded)\n',
  )
  t.equal(seen[0].headers['content-type'], 'application/json')
  invalid = true
  const bad = await run(['reload'])
  t.equal(bad.code, EXIT.REFUSED)
  t.match(
    bad.err,
    /^error CONFIG_INVALID: invalid config\n {2}apps\.shop\.upstreams\.blue: required\n {2}apps\.blog\.hosts\.0: must be a host name\n/,
  )
  const j = await run(['reload', '--json'])
  t.same(JSON.parse(j.out).error.details.errors.length, 2)
})

t.test('every write sends Content-Type: application/json, with or without a body', async (t) => {
  const { run, seen } = await fakeAdmin(t, () => ({ json: writeAnswer(2) }))
  await run(['cohort', 'rm', 'beta'])
  await run(['rollout', 'abort'])
  await run(['status'])
  t.same(
    seen.map((s) => [s.method, s.headers['content-type'] ?? null]),
    [
      ['DELETE', 'application/json'],
      ['POST', 'application/json'],
      ['GET', null],
    ],
  )
})

t.test('history: control characters from the router are escaped in human output', async (t) => {
  const reason = 'fix\u001b[2J\u001b]0;pwned\u0007 done\r\nfake line\u202e'
  const { run } = await fakeAdmin(t, () => ({
    json: {
      entries: [{ at: '2025-01-01T00:00:00.000Z', version: 2, action: 'flip', from: 'blue', to: 'green', actor: 'cli:ana', reason }],
    },
  }))
  const r = await run(['history'])
  t.equal(r.code, EXIT.OK)
  t.notMatch(r.out, /[\u0000-\u0009\u000b-\u001f\u007f\u202e]/, 'no control character but the line ends')
  t.match(r.out, /fix\\x1b\[2J\\x1b\]0;pwned\\x07 done\\r\\nfake line\\u202e\n$/)
  t.equal(r.out.trimEnd().split('\n').length, 2, 'one line per entry')
  const j = await run(['history', '--json'])
  t.equal(JSON.parse(j.out).entries[0].reason, reason, '--json keeps the data as it is')
})
