/**
 * `workers: 2` against `workers: 1`: req/s and CPU µs per request, in one run.
 *
 *   npm run bench:workers               (build first: npm run build)
 *   node bench/workers.js --duration 8 --rounds 3 --connections 64
 *
 * Both routers run at once on their own ports; rounds alternate between them
 * (1, 2, 1, 2, …) so drift on a shared box hits both. CPU per request is the
 * CPU time (user + system, /proc) of the primary and all its workers over a
 * round, divided by the requests served: it shows what the split costs per
 * request (state fan-out, batched reports, the primary handing connections
 * to workers), and is far less sensitive than req/s to other work on the box.
 * Nothing is pinned: the workers need every core, and the load generator and
 * the upstream share those cores, so on a small box req/s scales far less
 * than the core count (docs/performance.md has the numbers and the caveat).
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT } from './lib/contenders.js'
import { startLoadWorker } from './lib/load-worker.js'
import { cpuSeconds, freePort, installCleanup, launch, stop, stopAll, waitForHttp, waitForLine } from './lib/procs.js'
import { fmt, median, table } from './lib/stats.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    workers: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
})
const DURATION = Number(values.duration)
const ROUNDS = Number(values.rounds)
const CONNECTIONS = Number(values.connections)
const N = Number(values.workers)

installCleanup()
const tmp = mkdtempSync(join(os.tmpdir(), 'switchyard-bench-workers-'))
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }))

const upstreamPort = await freePort()
const upstream = launch('upstream', process.execPath, [join(ROOT, 'bench', 'upstream.js'), String(upstreamPort), '1'], { pin: false })
const ports = (await waitForLine(upstream, /also ([\d,]+)/, 30_000))[1].split(',').map(Number)

/** Starts a router with `workers`; resolves once it proxies. */
async function startRouter(workers) {
  const port = await freePort()
  const dir = mkdtempSync(join(tmp, `w${workers}-`))
  const config = {
    log: { level: 'warn' },
    listen: { host: '127.0.0.1', port },
    admin: { host: '127.0.0.1', port: await freePort() },
    store: { type: 'file', path: join(dir, 'state.json') },
    upstreams: { blue: { targets: [`http://127.0.0.1:${upstreamPort}`] }, green: { targets: [`http://127.0.0.1:${ports[0]}`] } },
    workers,
  }
  const file = join(dir, 'config.json')
  writeFileSync(file, JSON.stringify(config))
  const proc = launch(`switchyard workers=${workers}`, process.execPath, [join(ROOT, 'bin', 'switchyard.js'), 'serve', '--config', file], {
    pin: false,
    cwd: dir,
  })
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/small`, { proc, timeoutMs: 60_000 })
  return { workers, proc, url }
}

/** The primary and its workers (Linux: /proc/<pid>/task/<pid>/children). */
function pids(router) {
  const primary = router.proc.child.pid
  try {
    const kids = readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
    return [primary, ...kids]
  } catch {
    return [primary]
  }
}

function cpuOf(list) {
  let total = 0
  for (const p of list) {
    const s = cpuSeconds(p)
    if (s === null) return null
    total += s
  }
  return total
}

const routers = [await startRouter(1), await startRouter(N)]
if (pids(routers[1]).length !== N + 1) throw new Error(`expected ${N} workers under the primary, found ${pids(routers[1]).length - 1}`)
const load = startLoadWorker(false, null)
await load.ready
const requests = [{ method: 'GET', path: '/small' }]

async function round(router) {
  const list = pids(router)
  const c0 = cpuOf(list)
  const p0 = cpuSeconds(list[0])
  const res = await load.run({ url: router.url, connections: CONNECTIONS, duration: DURATION, requests })
  const c1 = cpuOf(list)
  const p1 = cpuSeconds(list[0])
  if (res.errors > 0 || res.non2xx > 0) throw new Error(`${router.proc.name}: ${res.errors} errors, ${res.non2xx} non-2xx`)
  const per = (a, b) => (a !== null && b !== null ? ((b - a) / res.requestsTotal) * 1e6 : null)
  return { rps: res.requestsPerSec, cpuUs: per(c0, c1), primaryUs: per(p0, p1) }
}

for (const r of routers) await load.run({ url: r.url, connections: CONNECTIONS, duration: 2, requests }) // warm-up
const sides = { 1: [], [N]: [] }
for (let i = 0; i < ROUNDS; i++) {
  for (const r of routers) sides[r.workers].push(await round(r))
}
for (const r of routers) await stop(r.proc, 15_000)
await stopAll()

const summary = (list) => ({
  rps: median(list.map((x) => x.rps)),
  cpuUs: list.every((x) => x.cpuUs !== null) ? median(list.map((x) => x.cpuUs)) : null,
  primaryUs: list.every((x) => x.primaryUs !== null) ? median(list.map((x) => x.primaryUs)) : null,
  rounds: list.map((x) => Math.round(x.rps)),
})
const one = summary(sides[1])
const many = summary(sides[N])
const out = {
  node: process.version,
  cpus: os.availableParallelism(),
  load: os.loadavg()[0],
  workers: N,
  rps: { one: one.rps, many: many.rps, ratio: many.rps / one.rps, rounds: { one: one.rounds, many: many.rounds } },
  cpuUsPerRequest: {
    one: one.cpuUs,
    many: many.cpuUs,
    ratio: one.cpuUs && many.cpuUs ? many.cpuUs / one.cpuUs : null,
    primary: many.primaryUs,
  },
  goal: { cpuRatio: 1.1 },
}
if (values.json) {
  console.log(JSON.stringify(out, null, 2))
} else {
  console.log(
    `switchyard workers · ${out.cpus} cores · Node ${out.node} · load avg ${out.load.toFixed(1)} · ${ROUNDS} × ${DURATION}s per side, ${CONNECTIONS} connections, nothing pinned\n`,
  )
  console.log(
    table(
      ['workers', 'req/s (median)', 'CPU µs/req (primary + workers)', 'of which primary', 'rounds'],
      [
        ['1', fmt(one.rps), fmt(one.cpuUs, 1), fmt(one.primaryUs, 1), one.rounds.join(' ')],
        [String(N), fmt(many.rps), fmt(many.cpuUs, 1), fmt(many.primaryUs, 1), many.rounds.join(' ')],
      ],
    ),
  )
  const cr = out.cpuUsPerRequest.ratio
  console.log(
    `\nworkers ${N} / 1: ${out.rps.ratio.toFixed(2)} × req/s (the load generator and the upstream share these ${out.cpus} cores); ` +
      `CPU per request ${cr === null ? 'n/a' : cr.toFixed(3) + ' ×'} (goal ≤ 1.10: ${cr !== null && cr <= 1.1 ? 'met' : 'MISSED'})`,
  )
}
process.exit(0)
