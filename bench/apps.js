/**
 * Many apps in one process: what 60 apps cost compared with one.
 *
 *   npm run bench:apps                 (build first: npm run build)
 *   node bench/apps.js --apps 60 --duration 8 --rounds 3
 *
 * Starts one upstream (pinned with the load generator) and two switchyard
 * processes in turn on the other core:
 *   - one app  (single-app shape, 2 colors × 2 targets)
 *   - N apps   (apps shape, N × 2 colors × 2 targets = 4N pools; targets
 *     spread over 127.0.0.x addresses, so every pool is its own origin)
 * and reports, from one run:
 *   - idle RSS after start (goal for 60 apps ≤ 130 MB; one router per app
 *     would be N × the one-app figure),
 *   - req/s of small GETs: the one-app router with one Host, the N-app router
 *     with requests spread over all N hosts (goal ≥ 0.97 ×), and CPU µs per
 *     request for both (steadier than req/s on a shared box).
 * Host lookup + decision alone is measured by `npm run bench:decide`.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { manyApps } from './lib/apps-config.js'
import { ROOT } from './lib/contenders.js'
import { startLoadWorker } from './lib/load-worker.js'
import {
  canPin,
  cpuSeconds,
  freePort,
  installCleanup,
  launch,
  memoryOf,
  sleep,
  stop,
  stopAll,
  waitForHttp,
  waitForLine,
} from './lib/procs.js'
import { fmt, median, table } from './lib/stats.js'

const { values } = parseArgs({
  options: {
    apps: { type: 'string', default: '60' },
    duration: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    json: { type: 'boolean', default: false },
  },
})
const N = Number(values.apps)
const DURATION = Number(values.duration)
const ROUNDS = Number(values.rounds)
const CONNECTIONS = Number(values.connections)
const LOAD_CORE = '0'
const PROXY_CORE = '1'

installCleanup()
const tmp = mkdtempSync(join(os.tmpdir(), 'switchyard-bench-apps-'))
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }))

const upstreamPort = await freePort()
const upstream = launch('upstream', process.execPath, [join(ROOT, 'bench', 'upstream.js'), String(upstreamPort), String(4 * N)], {
  core: LOAD_CORE,
  pin: canPin,
})
const ports = (await waitForLine(upstream, /also ([\d,]+)/, 30_000))[1].split(',').map(Number)
// Target k of app i has a port of its own: distinct origins (one pool each), one server process.
const target = (i, k) => `http://127.0.0.1:${ports[i * 4 + k]}`

function configOf(name, body) {
  const dir = join(tmp, name)
  mkdirSync(dir, { recursive: true })
  return {
    dir,
    body: { log: { level: 'warn' }, store: { type: 'file', path: join(dir, 'state.json') }, stickiness: { header: 'x-user-id' }, ...body },
  }
}

async function startRouter(name, body) {
  const { dir, body: config } = configOf(name, body)
  const port = await freePort()
  const adminPort = await freePort()
  config.listen = { host: '127.0.0.1', port }
  config.admin = { host: '127.0.0.1', port: adminPort }
  const file = join(dir, 'config.json')
  writeFileSync(file, JSON.stringify(config))
  const proc = launch(name, process.execPath, [join(ROOT, 'bin', 'switchyard.js'), 'serve', '--config', file], {
    core: PROXY_CORE,
    pin: canPin,
    cwd: dir,
  })
  const url = `http://127.0.0.1:${port}`
  const host = body.apps === undefined ? 'bench.test' : hostOf(0)
  await waitForHttp(`${url}/small`, { proc, timeoutMs: 30_000, headers: { host } })
  await sleep(1500) // let start-up garbage settle before reading idle RSS
  return { name, url, proc, idle: memoryOf(proc.child.pid) }
}

const up = (i) => ({ blue: { targets: [target(i, 0), target(i, 1)] }, green: { targets: [target(i, 2), target(i, 3)] } })
// Exact hosts only here (no wildcards), so runs compare with earlier ones.
const { apps, requestHost: hostOf } = manyApps({ count: N, upstreamsOf: up })
// A default app: one that serves hosts no app names.
const defaultApp = Object.keys(apps)[0]

const load = startLoadWorker(canPin, LOAD_CORE)
await load.ready

function requests(hosts) {
  return hosts.map((host, i) => ({ method: 'GET', path: '/small', headers: { host, 'x-user-id': `visitor-${i}` } }))
}

async function measure(router, hosts) {
  const rps = []
  const cpu = []
  await load.run({ url: router.url, connections: CONNECTIONS, duration: 2, requests: requests(hosts) })
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = cpuSeconds(router.proc.child.pid)
    const res = await load.run({ url: router.url, connections: CONNECTIONS, duration: DURATION, requests: requests(hosts) })
    const c1 = cpuSeconds(router.proc.child.pid)
    if (res.errors > 0 || res.non2xx > 0) throw new Error(`${router.name}: ${res.errors} errors, ${res.non2xx} non-2xx`)
    rps.push(res.requestsPerSec)
    if (c0 !== null && c1 !== null) cpu.push(((c1 - c0) / res.requestsTotal) * 1e6)
  }
  return { rps: median(rps), cpuUs: cpu.length > 0 ? median(cpu) : null, rounds: rps }
}

const one = await startRouter('one-app', { upstreams: up(0) })
const oneResult = await measure(one, ['bench.test'])
await stop(one.proc)
const many = await startRouter(`${N}-apps`, { apps, defaultApp })
const manyResult = await measure(
  many,
  Array.from({ length: N }, (_, i) => hostOf(i)),
)
await stop(many.proc)
await stopAll()

const ratio = manyResult.rps / oneResult.rps
const out = {
  node: process.version,
  cpus: os.cpus().length,
  apps: N,
  pools: N * 4,
  idleRssMiB: {
    oneApp: one.idle.rssMiB,
    manyApps: many.idle.rssMiB,
    oneRouterPerApp: one.idle.rssMiB === null ? null : one.idle.rssMiB * N,
  },
  rps: { oneApp: oneResult.rps, manyApps: manyResult.rps, ratio },
  cpuUsPerRequest: { oneApp: oneResult.cpuUs, manyApps: manyResult.cpuUs },
  goals: { idleRssMiB: 130, ratio: 0.97 },
}
if (values.json) {
  console.log(JSON.stringify(out, null, 2))
} else {
  console.log(
    `switchyard many apps · ${out.cpus} cores · Node ${out.node} · ${N} apps × 2 colors × 2 targets (${out.pools} pools) · ${ROUNDS} × ${DURATION}s, ${CONNECTIONS} connections\n`,
  )
  console.log(
    table(
      ['router', 'idle RSS MiB', 'req/s (median)', 'CPU µs/req', 'hosts in the load'],
      [
        ['one app', fmt(one.idle.rssMiB, 1), fmt(oneResult.rps), fmt(oneResult.cpuUs, 1), '1'],
        [`${N} apps`, fmt(many.idle.rssMiB, 1), fmt(manyResult.rps), fmt(manyResult.cpuUs, 1), String(N)],
        [`${N} single-app routers`, fmt(out.idleRssMiB.oneRouterPerApp, 0), '', '', ''],
      ],
    ),
  )
  console.log(
    `\n${N} apps / one app: ${ratio.toFixed(3)} × req/s (goal ≥ 0.97: ${ratio >= 0.97 ? 'met' : 'MISSED'}); idle RSS ${fmt(many.idle.rssMiB, 1)} MiB (goal ≤ 130: ${many.idle.rssMiB !== null && many.idle.rssMiB <= 130 ? 'met' : 'MISSED'})`,
  )
}
process.exit(0)
