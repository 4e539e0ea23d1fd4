import t, { type Test } from 'tap'
import { createServer } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CLIENT_COMMANDS, runClient } from '../../src/cli/client.js'
import { adminFixture, tempDir, type AdminFixture } from '../control/helpers.js'

const TOKEN = 'cli-test-token-0123456789abcdef'

interface Run {
  code: number
  out: string
  err: string
}

/**
 * An admin app listening on 127.0.0.1:0 (its built-in smoke route runs the
 * fixture's fake gate), plus an instances route unless `instances: false`.
 */
async function listening(
  t: Test,
  o: { token?: string; instances?: boolean } = {},
): Promise<AdminFixture & { url: string; run: (argv: string[], env?: NodeJS.ProcessEnv) => Promise<Run> }> {
  const instancesRoute: FastifyPluginAsyncTypebox = async (app) => {
    app.get('/v1/instances', async () => ({
      instances: [{ id: 'host-a:1', appliedVersion: 3, lastSeen: '2025-01-01T00:00:00.000Z', host: 'host-a', pid: 1 }],
    }))
  }
  const fx = await adminFixture(t, { token: o.token, app: { plugins: o.instances === false ? [] : [instancesRoute] } })
  await fx.app.listen({ host: '127.0.0.1', port: 0 })
  const addr = fx.app.server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no address')
  const url = `http://127.0.0.1:${addr.port}`
  const run = async (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    let out = ''
    let err = ''
    const code = await runClient(
      argv,
      {
        env: { SWITCHYARD_ADMIN_URL: url, USER: 'ana', ...(o.token ? { SWITCHYARD_ADMIN_TOKEN: o.token } : {}), ...env },
        stdout: (s) => void (out += s),
        stderr: (s) => void (err += s),
      },
      { timeoutMs: 60_000 },
    )
    return { code, out, err }
  }
  return { ...fx, url, run }
}

t.test('exports its command names', async (t) => {
  t.ok(CLIENT_COMMANDS.includes('flip'))
  t.ok(CLIENT_COMMANDS.includes('cohort'))
  t.notOk((CLIENT_COMMANDS as readonly string[]).includes('serve'))
})

t.test('status, flip, rollback, canary: success paths and output', async (t) => {
  const { run, service } = await listening(t)
  const s = await run(['status'])
  t.equal(s.code, 0)
  t.match(s.out, /^live: blue {2}idle: green {2}canary: 0% {2}version: 1 {2}cohorts: 0 {2}updated: 2025-01-01T00:00:00.000Z\n$/)

  const f = await run(['flip', '--reason', 'release 1.4'])
  t.equal(f.code, 0, f.err)
  t.match(f.out, /live: green \(was blue\) {2}version: 2/)
  t.equal(service.state.live, 'green')
  const h = await service.history(1)
  t.match(h[0], { actor: 'cli:ana', reason: 'release 1.4' })

  const same = await run(['flip', '--to', 'green'])
  t.equal(same.code, 0)
  t.match(same.out, /nothing to do: green is already live/)

  const r = await run(['rollback'])
  t.equal(r.code, 0)
  t.match(r.out, /live: blue \(rolled back from green\) {2}version: 3/)

  const c = await run(['canary', '12.5', '--force'])
  t.equal(c.code, 0)
  t.match(c.out, /canary: 12.5% to green \(was 0%\) {2}version: 4/)
  t.equal(service.state.canary, 12.5)

  const st = await run(['status'])
  t.match(st.out, /canary: 12.5%.*version: 4/)
  t.match(st.out, /previous: green/)
})

t.test('--json prints the raw answer', async (t) => {
  const { run } = await listening(t)
  const s = await run(['status', '--json'])
  t.equal(s.code, 0)
  t.match(JSON.parse(s.out), { version: 1, live: 'blue' })
  const f = await run(['--json', 'flip', '--force'])
  t.match(JSON.parse(f.out), { changed: true, state: { version: 2 }, entry: { action: 'flip' }, converged: true })
})

t.test('refusals: non-zero exit, error CODE: message, nothing changed', async (t) => {
  const { run, service, smoke } = await listening(t)
  const r = await run(['rollback'])
  t.equal(r.code, 1)
  t.match(r.err, /^error NO_PREVIOUS: There is no previous live color/)
  t.equal(r.out, '')

  smoke.ok = false
  const f = await run(['flip'])
  t.equal(f.code, 1)
  t.match(f.err, /error SMOKE_FAILED: smoke checks failed on green/)
  t.match(f.err, /FAIL {2}http:\/\/127\.0\.0\.1:1\/health {2}500 {2}1ms {2}status 500/)
  t.notMatch(f.err, /\/ready/, 'only failing checks are listed')

  const j = await run(['flip', '--json'])
  t.equal(j.code, 1)
  t.equal(JSON.parse(j.out).error.code, 'SMOKE_FAILED')

  const stale = await run(['canary', '5', '--force', '--if-match', '7'])
  t.equal(stale.code, 1)
  t.match(stale.err, /error VERSION_MISMATCH/)

  const nf = await run(['cohort', 'rm', 'nobody'])
  t.equal(nf.code, 1)
  t.match(nf.err, /error NOT_FOUND: No cohort named "nobody"/)
  t.equal(service.state.version, 1)
})

t.test('cohorts, history, explain, smoke, instances', async (t) => {
  const { run, service, smoke } = await listening(t)
  const dir = await tempDir(t)
  const file = join(dir, 'users.txt')
  await writeFile(file, 'u3\n\n# comment\nu4\r\nu1\n')
  const set = await run([
    'cohort',
    'set',
    'beta',
    '--color',
    'green',
    '--users',
    'u1,u2',
    '--users-file',
    file,
    '--header',
    'x-beta=1',
    '--cookie',
    'plan=pro',
    '--reason',
    'beta testers',
  ])
  t.equal(set.code, 0, set.err)
  t.match(set.out, /cohort beta: added {2}version: 2/)
  t.same(service.state.cohorts[0], {
    name: 'beta',
    color: 'green',
    match: { headers: { 'x-beta': '1' }, cookies: { plan: 'pro' }, users: ['u1', 'u2', 'u3', 'u4'] },
  })
  const rep = await run(['cohort', 'set', 'beta', '--color', 'idle', '--percent', '5.25'])
  t.match(rep.out, /cohort beta: replaced/)
  await run(['cohort', 'set', 'staff', '--color', 'blue', '--header', 'x-staff=yes'])

  const ls = await run(['cohort', 'ls'])
  t.equal(ls.code, 0)
  t.match(ls.out, /^NAME +COLOR +MATCH\nbeta +idle +percent 5.25%\nstaff +blue +headers x-staff=yes\n$/)

  const ex = await run(['explain', '--header', 'X-Staff=yes', '--header', 'x-user-id=u9'])
  t.equal(ex.code, 0)
  t.match(ex.out, /^blue {2}rule: cohort staff {2}key: u9 {2}bucket: \d+\n$/)

  const rm = await run(['cohort', 'rm', 'staff'])
  t.match(rm.out, /cohort staff: removed {2}version: 5/)

  const hist = await run(['history', '--limit', '2'])
  t.equal(hist.code, 0)
  const lines = hist.out.trim().split('\n')
  t.equal(lines.length, 3)
  t.match(lines[0], /^AT +VERSION +ACTION +FROM +TO +ACTOR +REASON$/)
  t.match(lines[1], /^2025-01-01T00:00:00.000Z +5 +cohort remove +staff +- +cli:ana +-$/)
  t.match(lines[2], /^\S+ +4 +cohort/)

  const sm = await run(['smoke', 'blue'])
  t.equal(sm.code, 0)
  t.match(sm.out, /^smoke blue: ok\n {2}ok {4}http:\/\/127.0.0.1:1\/health {2}200/)
  t.same(smoke.calls, ['blue'])
  smoke.ok = false
  const bad = await run(['smoke'])
  t.equal(bad.code, 1, 'failing checks exit non-zero')
  t.match(bad.out, /smoke green: FAILED\n {2}FAIL/)

  const inst = await run(['instances'])
  t.equal(inst.code, 0)
  t.match(inst.out, /^ID +VERSION +LAST SEEN +HOST +PID\nhost-a:1 +3 +2025-01-01T00:00:00.000Z +host-a +1\n$/)

  const rs = await run(['rollout', 'status'])
  t.equal(rs.code, 0)
  t.match(rs.out, /no rollout in progress/)

  // Every per-app route is built in now; a server without the instances plugin lacks /v1/instances.
  const bare = await listening(t, { instances: false })
  const missing = await bare.run(['instances'])
  t.equal(missing.code, 1, 'a route the server lacks is a refusal')
  t.match(missing.err, /error NOT_FOUND/)
})

t.test('bad usage exits 2 with a line naming the problem', async (t) => {
  const { run, service } = await listening(t)
  const cases: [string[], RegExp][] = [
    [[], /a command is needed/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['flip', '--colour', 'green'], /Unknown option '--colour'/],
    [['flip', '--to', 'red'], /--to must be one of blue, green/],
    [['flip', '--percent', '5'], /flip does not take --percent/],
    [['canary'], /canary needs <percent>/],
    [['canary', 'ten'], /percent from 0 to 100/],
    [['canary', '12.345'], /at most two decimals/],
    [['canary', '101'], /percent from 0 to 100/],
    [['canary', '5', '6'], /unexpected argument "6"/],
    [['cohort'], /cohort needs set, rm or ls/],
    [['cohort', 'set', 'beta'], /needs --color/],
    [['cohort', 'set', '--color', 'green'], /cohort set needs <name>/],
    [['cohort', 'set', 'beta', '--color', 'green', '--header', 'novalue'], /--header must be name=value/],
    [['cohort', 'set', 'beta', '--color', 'green', '--users-file', '/nonexistent/users.txt'], /cannot read --users-file/],
    [['history', '--limit', '0'], /--limit must be a positive integer/],
    [['flip', '--if-match', 'abc'], /--if-match must be a state version/],
    [['rollout'], /rollout needs start/],
    [['rollout', 'start'], /needs --steps/],
    [['rollout', 'start', '--steps', '10:60,fifty:60'], /step 2 percent/],
    [['rollout', 'start', '--steps', '10-60'], /step 1 must be percent:holdSeconds/],
    [['status', '--admin', 'ftp://x'], /--admin must be an http/],
    [['flip', '--reason'], /argument missing|requires|expects/i],
  ]
  for (const [argv, message] of cases) {
    const r = await run(argv)
    t.equal(r.code, 2, `${argv.join(' ')}: exit 2`)
    t.match(r.err, /^usage error: /, `${argv.join(' ')}: usage line`)
    t.match(r.err, message, `${argv.join(' ')}: names the problem`)
  }
  t.equal(service.state.version, 1, 'nothing was sent')
  const help = await run(['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /switchyard cohort set <name>/)
})

t.test('token from SWITCHYARD_ADMIN_TOKEN; missing token is a refusal', async (t) => {
  const { run } = await listening(t, { token: TOKEN })
  t.equal((await run(['status'])).code, 0)
  const no = await run(['status'], { SWITCHYARD_ADMIN_TOKEN: '' })
  t.equal(no.code, 3, 'unauthorized exits 3')
  t.match(no.err, /error UNAUTHORIZED/)
  t.match(no.err, /set SWITCHYARD_ADMIN_TOKEN/)
  const wrong = await run(['flip'], { SWITCHYARD_ADMIN_TOKEN: 'not-the-token-at-all-0000' })
  t.equal(wrong.code, 3)
  t.match(wrong.err, /error UNAUTHORIZED: The bearer token is not valid/)
})

t.test('unreachable admin: exit 4 with a message naming the URL', async (t) => {
  // A port that was free a moment ago: bind, read it, close.
  const port = await new Promise<number>((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0))
    })
  })
  let err = ''
  const code = await runClient(['status', '--admin', `http://127.0.0.1:${port}`], {
    env: {},
    stdout: () => {},
    stderr: (s) => void (err += s),
  })
  t.equal(code, 4)
  t.match(err, new RegExp(`cannot reach the admin API at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`))
})

t.test('a hung admin times out instead of hanging', async (t) => {
  const sockets = new Set<import('node:net').Socket>()
  const server = createServer((s) => void sockets.add(s)) // accepts, never answers
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  const addr = server.address() as import('node:net').AddressInfo
  let err = ''
  const code = await runClient(
    ['status'],
    { env: { SWITCHYARD_ADMIN_URL: `http://127.0.0.1:${addr.port}` }, stdout: () => {}, stderr: (s) => void (err += s) },
    { timeoutMs: 300 },
  )
  t.equal(code, 4)
  t.match(err, /no answer within 0.3 s/)
})

t.test('explain names the chance of a dark-launch copy while mirroring runs', async (t) => {
  const { run } = await listening(t)
  const before = await run(['explain', '--header', 'x-user-id=u9'])
  t.notMatch(before.out, /mirrored/, 'nothing is mirrored yet')
  const mirror = await run(['mirror', '10'])
  t.equal(mirror.code, 0, mirror.out + mirror.err)
  const copied = await run(['explain', '--method', 'get', '--header', 'x-user-id=u9'])
  t.match(copied.out, /^blue {2}rule: live {2}key: u9 {2}bucket: \d+ {2}mirrored: 10%\n$/)
  const post = await run(['explain', '--method', 'POST', '--header', 'x-user-id=u9'])
  t.equal(post.code, 0)
  t.notMatch(post.out, /mirrored/, 'POST is not copied by default')
})
