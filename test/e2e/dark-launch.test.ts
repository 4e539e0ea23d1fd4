import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { BIN, admin, baseConfig, startRouterProcess, writeConfig, type RouterProcess } from './router-process.js'
import { request } from '../helpers/request.js'
import { find, parseMetrics, value, waitFor } from './watch-helpers.js'

/**
 * Dark launch end to end: a real router process, a live color (blue) and an
 * idle color (green) whose behaviour each test sets (answer, slow, fail,
 * hang). Assertions are on bytes and on order ("live answered before the
 * idle color answered"), never on timings.
 */

interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: Buffer
}

type Mode = 'answer' | 'slow' | 'fail' | 'hang'

interface Color {
  url: string
  seen: Seen[]
  /** requests answered so far */
  answered: number
  mode: Mode
  /** answers held by `slow`/`hang`: call to send them (slow) or cut them (hang) */
  held: (() => void)[]
  close(): Promise<void>
}

const BIG = randomBytes(256 * 1024)

async function color(t: Test, name: 'blue' | 'green', price: number): Promise<Color> {
  const c: Color = { url: '', seen: [], answered: 0, mode: 'answer', held: [], close: async () => {} }
  const answer = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    c.seen.push({ method: req.method as string, url: req.url as string, headers: req.headers, body })
    const send = () => {
      c.answered++
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        res.end(BIG)
      } else if (req.url?.startsWith('/api/price')) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ price, currency: 'EUR', at: `${name}-${Math.random()}` }))
      } else {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ items: [1, 2, 3], at: Math.random(), method: req.method, bytes: body.length }))
      }
    }
    if (c.mode === 'answer') send()
    else if (c.mode === 'slow') c.held.push(send)
    else if (c.mode === 'fail') req.socket.destroy()
    else c.held.push(() => req.socket.destroy())
  }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (d: Buffer) => chunks.push(d))
    req.on('end', () => answer(req, res, Buffer.concat(chunks)))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  c.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  c.close = async () => {
    for (const h of c.held.splice(0)) h()
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
  }
  t.teardown(() => c.close())
  return c
}

interface Setup {
  router: RouterProcess
  blue: Color
  green: Color
}

async function setup(t: Test, mirror: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<Setup> {
  const blue = await color(t, 'blue', 10)
  const green = await color(t, 'green', 12)
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-dark-'))
  const router = await startRouterProcess(writeConfig(baseConfig(dir, [blue.url], [green.url], { mirror, ...extra })))
  t.teardown(async () => {
    const workers = router.logs.filter((l) => l.msg === 'worker started').map((l) => l.workerPid as number)
    await router.stop()
    // A router that failed to drain must not leave its workers behind.
    for (const pid of workers) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone already
      }
    }
  })
  return { router, blue, green }
}

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(url, init)
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers }
}

/** A POST whose body goes out chunked (no Content-Length), piece by piece. */
function postChunked(url: string, parts: Buffer[]): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    for (const p of parts) req.write(p)
    req.end()
  })
}

async function metrics(router: RouterProcess) {
  const res = await fetch(`${router.adminUrl}/metrics`)
  return parseMetrics(await res.text()).samples
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

t.test('copies arrive with the headers; methods filtered; bodies up to maxBodyBytes', async (t) => {
  const { router, green, blue } = await setup(t, { methods: ['GET', 'POST'], maxBodyBytes: 1000 })
  t.equal((await admin(router.adminUrl, 'PUT', '/v1/mirror', { percent: 100 })).status, 200)

  const live = await get(`${router.proxyUrl}/a?q=1`, { headers: { 'x-test': 'kept' } })
  t.equal(live.status, 200)
  t.equal(live.headers.get('x-switchyard-color'), 'blue', 'the client is answered by the live color')
  const copy = await waitFor('the copy of GET /a', () => green.seen.find((s) => s.url === '/a?q=1'), 10_000)
  t.equal(copy.method, 'GET')
  t.equal(copy.headers['x-switchyard-mirror'], '1')
  t.equal(copy.headers['x-switchyard-color'], 'green')
  t.equal(copy.headers['x-test'], 'kept', 'the request headers are copied')
  t.equal(blue.seen.find((s) => s.url === '/a?q=1')?.headers['x-switchyard-mirror'], undefined, 'the live request carries no mirror header')

  const small = randomBytes(500)
  await get(`${router.proxyUrl}/post-small`, { method: 'POST', body: small, headers: { 'content-type': 'application/octet-stream' } })
  const big = randomBytes(2000)
  const bigLive = await get(`${router.proxyUrl}/post-big`, {
    method: 'POST',
    body: big,
    headers: { 'content-type': 'application/octet-stream' },
  })
  t.equal(JSON.parse(bigLive.body.toString()).bytes, 2000, 'the live request gets its whole body')
  t.equal(blue.seen.find((s) => s.url === '/post-big')?.body.equals(big), true)
  // Chunked bodies (no Content-Length): copied while small enough, dropped once past maxBodyBytes.
  const pieces = [randomBytes(300), randomBytes(300)]
  const chunkedLive = await postChunked(`${router.proxyUrl}/chunked-small`, pieces)
  t.equal(JSON.parse(chunkedLive.body.toString()).bytes, 600)
  const chunkedBig = [randomBytes(600), randomBytes(600)]
  const chunkedBigLive = await postChunked(`${router.proxyUrl}/chunked-big`, chunkedBig)
  t.equal(JSON.parse(chunkedBigLive.body.toString()).bytes, 1200, 'the live request gets its whole chunked body')
  await get(`${router.proxyUrl}/delete`, { method: 'DELETE' })
  await get(`${router.proxyUrl}/head`, { method: 'HEAD' })
  await get(`${router.proxyUrl}/marker`)
  const copied = await waitFor('the copy of POST /post-small', () => green.seen.find((s) => s.url === '/post-small'), 10_000)
  t.ok(copied.body.equals(small), 'the body is copied byte for byte')
  t.equal(blue.seen.find((s) => s.url === '/post-small')?.body.equals(small), true, 'the live body is intact')
  const chunkedCopy = await waitFor('the copy of POST /chunked-small', () => green.seen.find((s) => s.url === '/chunked-small'), 10_000)
  t.ok(chunkedCopy.body.equals(Buffer.concat(pieces)), 'a chunked body is copied byte for byte')
  t.equal(chunkedCopy.headers['content-length'], '600', 'the copy goes out with its length')
  t.equal(chunkedCopy.headers['transfer-encoding'], undefined)
  t.equal(blue.seen.find((s) => s.url === '/chunked-big')?.body.equals(Buffer.concat(chunkedBig)), true, 'the big live body is intact')
  await waitFor('the copy of GET /marker', () => green.seen.find((s) => s.url === '/marker'), 10_000)
  t.same(
    green.seen.map((s) => s.method + ' ' + s.url).sort(),
    ['GET /a?q=1', 'GET /marker', 'POST /chunked-small', 'POST /post-small'],
    'DELETE and HEAD are not in methods; a body over maxBodyBytes is not mirrored, sized or chunked',
  )
  const health = await admin(router.adminUrl, 'GET', '/v1/health')
  t.equal(health.json.colors.green.requests, 0, 'copies do not count in the idle color’s window')
  const m = await metrics(router)
  t.equal(value(m, 'switchyard_mirror_requests_total', { app: 'default', result: 'sent' }), 4)
  t.equal(value(m, 'switchyard_mirror_requests_total', { app: 'default', result: 'dropped' }), 1, 'the chunked body that grew too big')
  t.equal(value(m, 'switchyard_requests_total', { app: 'default', color: 'green', code: '200' }), undefined, 'nor in requests_total')
})

t.test('a slow, failing or hanging idle color never changes the live answer; drops counted', async (t) => {
  const { router, green, blue } = await setup(t, { concurrency: 2, timeoutMs: 60_000, maxBodyBytes: 64 * 1024 })
  t.equal((await admin(router.adminUrl, 'PUT', '/v1/mirror', { percent: 100 })).status, 200)
  const direct = await get(`${blue.url}/big`)

  green.mode = 'slow'
  const slow = await get(`${router.proxyUrl}/big`)
  t.equal(sha(slow.body), sha(direct.body), 'slow idle: the live bytes are the same')
  await waitFor('the slow copy to arrive', () => green.seen.length === 1 || undefined, 10_000)
  t.equal(green.answered, 0, 'the live color answered before the idle color did')
  for (const h of green.held.splice(0)) h()
  await waitFor('the slow copy to be answered', () => green.answered === 1 || undefined, 10_000)

  green.mode = 'fail'
  const failing = await get(`${router.proxyUrl}/big`)
  t.equal(sha(failing.body), sha(direct.body), 'failing idle: the live bytes are the same')
  await waitFor(
    'the failed copy to be counted',
    async () => value(await metrics(router), 'switchyard_mirror_requests_total', { app: 'default', result: 'error' }) === 1 || undefined,
    10_000,
  )

  green.mode = 'hang'
  const seenBefore = green.seen.length
  for (let i = 0; i < 6; i++) {
    const r = await get(`${router.proxyUrl}/big`)
    t.equal(sha(r.body), sha(direct.body), `hanging idle, request ${i + 1}: the live bytes are the same`)
  }
  await waitFor('two copies to hang', () => green.seen.length === seenBefore + 2 || undefined, 10_000)
  const m = await metrics(router)
  t.equal(
    value(m, 'switchyard_mirror_requests_total', { app: 'default', result: 'dropped' }),
    4,
    'beyond concurrency 2, copies are dropped',
  )
  const shadow = await admin(router.adminUrl, 'GET', '/v1/shadow')
  t.match(shadow.json, { dropped: 4, errors: 1, samples: 0, skipped: 1 }, 'a body over maxBodyBytes is not compared')
  t.equal(green.answered, 1)
})

t.test('diffs found, ignored fields ignored; the gate refuses, the CLI prints it, force flips; reset and flip clear', async (t) => {
  const { router, green } = await setup(t, { compare: { ignoreJsonFields: ['at'], minSamples: 6, maxMismatchRate: 0.2 } })
  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args, '--admin', router.adminUrl], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      child.once('close', (code) => resolve({ code, stdout, stderr }))
    })
  const set = await cli('mirror', '100', '--reason', 'dark launch')
  t.equal(set.code, 0, set.stderr)
  t.match(set.stdout, /mirror: 100% of live-routed requests copied to green/)
  const traffic = async () => {
    for (let i = 0; i < 4; i++) {
      await get(`${router.proxyUrl}/api/items/${i + 1}`)
      await get(`${router.proxyUrl}/api/price/${i + 1}`)
    }
    await waitFor('8 comparisons', async () => (await admin(router.adminUrl, 'GET', '/v1/shadow')).json.samples === 8 || undefined, 10_000)
  }
  await traffic()
  const shadow = (await admin(router.adminUrl, 'GET', '/v1/shadow')).json
  t.match(shadow, { percent: 100, samples: 8, matches: 4, mismatches: 4, mismatchRate: 0.5, refusing: true })
  t.match(shadow.routes, [
    { route: 'GET /api/price/:id', samples: 4, mismatches: 4 },
    { route: 'GET /api/items/:id', samples: 4, mismatches: 0 },
  ])
  t.same(shadow.recent[0].diff, ['$.price: 10 → 12'], 'the diff names the field; `at` is ignored')
  t.equal(green.seen.length, 8)

  const human = await cli('shadow')
  t.equal(human.code, 0)
  t.match(human.stdout, /compared: 8 {2}matches: 4 {2}mismatches: 4/)
  t.match(human.stdout, /GET \/api\/price\/:id/)
  t.match(human.stdout, /\$\.price: 10 → 12/)
  const asJson = await cli('shadow', '--json')
  t.equal(JSON.parse(asJson.stdout).mismatches, 4)

  const refused = await cli('flip')
  t.equal(refused.code, 1, 'refused by the router')
  t.match(refused.stderr, /error SHADOW_MISMATCH/)
  t.match(refused.stderr, /4 of 8 compared answers differ: 50% > 20%/)
  t.equal(
    (await admin(router.adminUrl, 'PUT', '/v1/canary', { percent: 5 })).json.error.code,
    'SHADOW_MISMATCH',
    'a canary start is refused too',
  )

  const m = await metrics(router)
  t.equal(value(m, 'switchyard_shadow_comparisons_total', { app: 'default', result: 'match' }), 4)
  t.equal(value(m, 'switchyard_shadow_comparisons_total', { app: 'default', result: 'mismatch' }), 4)
  t.equal(value(m, 'switchyard_mirror_requests_total', { app: 'default', result: 'sent' }), 8)

  const reset = await cli('shadow', 'reset')
  t.equal(reset.code, 0)
  t.match((await admin(router.adminUrl, 'GET', '/v1/shadow')).json, { samples: 0, recent: [] })
  await traffic()
  const forced = await cli('flip', '--force')
  t.equal(forced.code, 0, forced.stderr)
  t.equal((await admin(router.adminUrl, 'GET', '/v1/state')).json.live, 'green')
  t.match(
    (await admin(router.adminUrl, 'GET', '/v1/shadow')).json,
    { samples: 0, mismatches: 0, recent: [] },
    'the flip cleared the counters',
  )
  const history = (await admin(router.adminUrl, 'GET', '/v1/history')).json.entries
  t.ok(
    history.some(
      (e: { action: string; to: number; reason: string }) => e.action === 'mirror' && e.to === 100 && e.reason === 'dark launch',
    ),
  )
})

t.test('workers: 2 mirror too: copies from both workers, one shadow diff, the gate refuses, the metrics sum', async (t) => {
  const { router, green } = await setup(
    t,
    { percent: 100, compare: { ignoreJsonFields: ['at'], minSamples: 10, maxMismatchRate: 0.2 } },
    { workers: 2, log: { level: 'info', access: true } },
  )
  t.equal((await admin(router.adminUrl, 'GET', '/v1/state')).json.mirror, 100, 'a config mirror percent with workers: 2 is accepted')
  t.equal((await admin(router.adminUrl, 'PUT', '/v1/mirror', { percent: 100, reason: 'dark launch' })).status, 200)
  // Each request on a fresh connection (no agent), so the kernel spreads them over both workers.
  for (let i = 0; i < 10; i++) {
    t.equal((await request(`${router.proxyUrl}/api/items/${i + 1}`)).status, 200)
    t.equal((await request(`${router.proxyUrl}/api/price/${i + 1}`)).status, 200)
  }
  await waitFor('20 copies at the idle color', () => green.seen.length === 20 || undefined, 10_000)
  t.ok(
    green.seen.every((s) => s.headers['x-switchyard-mirror'] === '1'),
    'the idle color saw copies only',
  )
  const shadow = await waitFor(
    '20 comparisons at the primary',
    async () => {
      const s = (await admin(router.adminUrl, 'GET', '/v1/shadow')).json
      return s.samples === 20 && s
    },
    10_000,
  )
  t.match(shadow, { percent: 100, sent: 20, samples: 20, matches: 10, mismatches: 10, mismatchRate: 0.5, refusing: true })
  t.match(shadow.routes, [
    { route: 'GET /api/price/:id', samples: 10, mismatches: 10 },
    { route: 'GET /api/items/:id', samples: 10, mismatches: 0 },
  ])
  t.same(shadow.recent[0].diff, ['$.price: 10 → 12'], 'the pair crossed the IPC intact (bodies and headers)')

  const m = await waitFor('the 20 requests in /metrics', async () => {
    const now = await metrics(router)
    return find(now, 'switchyard_worker_requests_total').reduce((n, x) => n + x.value, 0) === 20 && now
  })
  const perWorker = Object.fromEntries(find(m, 'switchyard_worker_requests_total').map((x) => [x.labels.worker, x.value]))
  t.ok((perWorker['0'] ?? 0) > 0 && (perWorker['1'] ?? 0) > 0, `both workers served some (${JSON.stringify(perWorker)})`)
  const served = await waitFor('the 20 access log lines', () => {
    const lines = router.logs.filter((l) => l.msg === 'request')
    return lines.length === 20 && new Set(lines.map((l) => l.worker))
  })
  t.same([...served].sort(), ['0', '1'], 'the access log names both workers')
  // Every request was copied (100%, 20 sent) and both workers served some: both sent copies.
  t.equal(value(m, 'switchyard_mirror_requests_total', { app: 'default', result: 'sent' }), 20, 'sent: the sum over the workers')
  t.equal(value(m, 'switchyard_shadow_comparisons_total', { app: 'default', result: 'mismatch' }), 10)
  t.equal(value(m, 'switchyard_shadow_comparisons_total', { app: 'default', result: 'match' }), 10)

  const refused = await admin(router.adminUrl, 'POST', '/v1/flip', {})
  t.equal(refused.status, 409)
  t.equal(refused.json.error.code, 'SHADOW_MISMATCH')
  t.equal((await admin(router.adminUrl, 'GET', '/v1/state')).json.live, 'blue', 'still blue')
  const forced = await admin(router.adminUrl, 'POST', '/v1/flip', { force: true })
  t.equal(forced.status, 200)
  t.equal(forced.json.converged, true)
  t.match((await admin(router.adminUrl, 'GET', '/v1/shadow')).json, { samples: 0, recent: [] }, 'the flip cleared the counters')
})
