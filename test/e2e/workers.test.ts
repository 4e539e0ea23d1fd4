import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from '../helpers/request.js'
import { admin, baseConfig, startRouterProcess, writeConfig, type RouterProcess } from './router-process.js'
import { startColorServer } from './upstreams.js'
import { find, parseMetrics, waitFor, type Sample } from './watch-helpers.js'

/*
 * `workers: 2` through the real binary: the primary keeps the control plane,
 * two node:cluster workers route. Every request here goes on a fresh
 * connection (no agent), and the cluster hands connections to the workers in
 * turn, so a batch of requests reaches both; the per-worker metrics prove it.
 */

async function metrics(r: RouterProcess): Promise<Sample[]> {
  const res = await fetch(`${r.adminUrl}/metrics`)
  return parseMetrics(await res.text()).samples
}

const sum = (samples: Sample[], name: string, labels: Record<string, string> = {}): number =>
  find(samples, name, labels).reduce((n, s) => n + s.value, 0)

/** Requests per worker slot, as the primary last heard from its workers. */
const perWorker = (samples: Sample[]): Record<string, number> =>
  Object.fromEntries(find(samples, 'switchyard_worker_requests_total').map((s) => [s.labels.worker, s.value]))

/** `n` requests, each on a new connection; the colors the upstreams said. */
async function colors(url: string, n: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const r = await request(url + '/x')
    out.push(r.status === 200 ? r.json<{ color: string }>().color : `status ${r.status}`)
  }
  return out
}

const workerPids = (r: RouterProcess): number[] => r.logs.filter((l) => l.msg === 'worker started').map((l) => l.workerPid as number)

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

t.test('workers: 2', async (t) => {
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(() => Promise.all([blue.close(), green.close()]))
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const cfg = baseConfig(dir, [blue.url], [green.url], {
    workers: 2,
    preview: { host: '127.0.0.1', port: 0 },
    // minRequests 20 with 20 requests split over two workers: neither worker alone reaches it.
    autoRevert: { enabled: true, maxErrorRate: 0.5, minRequests: 20, windowSeconds: 30, watchSecondsAfterFlip: 120 },
  })
  const path = writeConfig(cfg, dir)
  const router = await startRouterProcess(path)
  t.teardown(async () => {
    const pids = workerPids(router)
    await router.stop('SIGKILL')
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL')
  })

  await t.test('two workers start and route', async (t) => {
    const pids = workerPids(router)
    t.equal(new Set(pids).size, 2, 'two "worker started" lines, two pids')
    t.notOk(pids.includes(router.child.pid as number), 'the workers are not the primary')
    t.same(new Set(await colors(router.proxyUrl, 10)), new Set(['blue']))
    t.ok(router.previewUrl, 'the preview listener is up')
    t.same(
      new Set(await colors(router.previewUrl as string, 6)),
      new Set(['green']),
      'the preview listener of every worker routes to the idle color',
    )
    const m = await metrics(router)
    t.equal(sum(m, 'switchyard_workers'), 2)
  })

  await t.test('after a flip every worker routes green, and the metrics sum across workers', async (t) => {
    const before = await waitFor('the first 16 requests in /metrics', async () => {
      const m = await metrics(router)
      return sum(m, 'switchyard_requests_total') === 16 && m
    })
    const flip = await admin(router.adminUrl, 'POST', '/v1/flip', {})
    t.equal(flip.status, 200)
    t.equal(flip.json.converged, true, 'the write answered once both workers applied it')
    const version = flip.json.state.version as number
    const seen = await colors(router.proxyUrl, 40)
    t.same(new Set(seen), new Set(['green']), 'every fresh connection, whichever worker took it, saw green')
    const m = await metrics(router)
    t.same(
      find(m, 'switchyard_worker_state_version', { app: 'default' }).map((s) => s.value),
      [version, version],
      'both workers report the new version',
    )
    const after = await waitFor('the 40 requests in /metrics', async () => {
      const now = await metrics(router)
      return sum(now, 'switchyard_requests_total') === 56 && now
    })
    t.equal(
      sum(after, 'switchyard_requests_total', { color: 'green', code: '200' }),
      46,
      'the green requests of both workers (40 + 6 preview), summed',
    )
    t.equal(sum(after, 'switchyard_request_duration_seconds_count'), 56, 'the histogram sums both workers too')
    const a = perWorker(after)
    const b = perWorker(before)
    t.ok(
      (a['0'] ?? 0) - (b['0'] ?? 0) > 0 && (a['1'] ?? 0) - (b['1'] ?? 0) > 0,
      `both workers served some of the 40 (${JSON.stringify(a)})`,
    )
    t.equal((a['0'] ?? 0) + (a['1'] ?? 0), 56, 'the per-worker counts add up to the total')
  })

  await t.test('auto-revert counts the errors of both workers', async (t) => {
    t.equal((await admin(router.adminUrl, 'POST', '/v1/rollback', {})).json.state.live, 'blue')
    green.status = 500
    t.teardown(() => {
      green.status = 200
    })
    const flip = await admin(router.adminUrl, 'POST', '/v1/flip', { force: true })
    t.equal(flip.json.state.live, 'green')
    t.equal(flip.json.converged, true)
    const before = perWorker(await metrics(router))
    const seen = await colors(router.proxyUrl, 20)
    t.same(new Set(seen), new Set(['status 500']), '20 errors from green')
    const reverted = await waitFor('the auto-revert', async () => {
      const s = await admin(router.adminUrl, 'GET', '/v1/state')
      return s.json.live === 'blue' && s.json
    })
    t.equal(reverted.live, 'blue')
    const history = await admin(router.adminUrl, 'GET', '/v1/history')
    t.equal(history.json.entries[0].action, 'auto-revert')
    const after = perWorker(await metrics(router))
    const d0 = (after['0'] ?? 0) - (before['0'] ?? 0)
    const d1 = (after['1'] ?? 0) - (before['1'] ?? 0)
    t.ok(
      d0 > 0 && d0 < 20 && d1 > 0 && d1 < 20,
      `each worker served part of the 20 errors (${d0} + ${d1}); neither alone reached minRequests`,
    )
    t.same(new Set(await colors(router.proxyUrl, 6)), new Set(['blue']), 'every worker routes by the reverted state')
  })

  await t.test('a killed worker comes back', async (t) => {
    const [victim] = workerPids(router)
    process.kill(victim, 'SIGKILL')
    await waitFor('the worker exit log line', () =>
      router.logs.some((l) => l.msg === 'worker exited; restarting it' && l.workerPid === victim),
    )
    const fresh = await waitFor('a new worker', () => {
      const pids = workerPids(router)
      return pids.length === 3 && pids[2]
    })
    t.not(fresh, victim)
    t.ok(alive(fresh), 'the new worker runs')
    const slot = String(router.logs.find((l) => l.msg === 'worker started' && l.workerPid === fresh)?.worker)
    const m = await metrics(router)
    t.equal(sum(m, 'switchyard_workers'), 2)
    t.equal(sum(m, 'switchyard_worker_restarts_total'), 1)
    const before = perWorker(m)[slot] ?? 0
    // The new worker got the current state when it started, and gets the next one.
    const flip = await admin(router.adminUrl, 'POST', '/v1/flip', {})
    t.equal(flip.json.converged, true)
    t.same(new Set(await colors(router.proxyUrl, 20)), new Set(['green']))
    await waitFor('the new worker serving requests', async () => (perWorker(await metrics(router))[slot] ?? 0) > before, 10_000)
    t.pass(`the new worker (slot ${slot}) serves requests on the shared port`)
  })

  await t.test('a reload reaches every worker', async (t) => {
    const withHeader = await request(router.proxyUrl + '/x')
    t.equal(withHeader.headers['x-switchyard-color'], 'green')
    writeConfig({ ...cfg, headers: { exposeColor: false } }, dir)
    const r = await admin(router.adminUrl, 'POST', '/v1/reload', {})
    t.equal(r.status, 200)
    t.same(r.json.changed, ['default'])
    // The reload answers after the broadcast; give the workers' IPC a moment to deliver it.
    await waitFor(
      'no color header from any worker',
      async () => {
        for (let i = 0; i < 6; i++) if ((await request(router.proxyUrl + '/x')).headers['x-switchyard-color'] !== undefined) return false
        return true
      },
      10_000,
    )
    const changedWorkers = await admin(router.adminUrl, 'POST', '/v1/reload', {})
    t.same(changedWorkers.json.needsRestart, [], 'nothing else changed')
    writeConfig({ ...cfg, headers: { exposeColor: false }, workers: 3 }, dir)
    t.same((await admin(router.adminUrl, 'POST', '/v1/reload', {})).json.needsRestart, ['workers'], 'workers needs a restart')
  })

  await t.test('SIGTERM drains every worker, then exits 0', async (t) => {
    green.delayMs = 1500
    const hits = green.hits
    const slow = request(router.proxyUrl + '/slow')
    // In flight: the upstream has it.
    await waitFor('the slow request at the upstream', () => green.hits > hits, 10_000, 20)
    router.child.kill('SIGTERM')
    const res = await slow
    t.equal(res.status, 200, 'the request in flight finished')
    t.equal(await router.exited, 0)
    const pids = workerPids(router)
    await waitFor('the workers to be gone', () => pids.every((p) => !alive(p)), 10_000)
    t.ok(router.logs.filter((l) => l.msg === 'worker drained').length >= 2, 'both workers drained')
  })
})
