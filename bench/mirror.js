/**
 * Dark launch: what mirroring costs the proxy.
 *
 *   npm run bench:mirror               (build first: npm run build)
 *   node bench/mirror.js --duration 8 --rounds 3
 *
 * One upstream process (blue and green on two ports, pinned with the load
 * generator) and one switchyard process on the other core. In the same run,
 * the mirror percent is set to 0, 10 and 100 (PUT /v1/mirror; compare on,
 * so the shadow diff runs too) and small GETs are measured at each: req/s
 * and CPU µs per client request of the switchyard process, and the ratios
 * to 0%. Goal: ≤ 10% cost at 10%. At 100% every request is sent twice and
 * both answers are compared; copies beyond `mirror.concurrency` (64) are
 * dropped, and the shadow counters say how many.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT } from './lib/contenders.js'
import { startLoadWorker } from './lib/load-worker.js'
import { canPin, cpuSeconds, freePort, installCleanup, launch, stopAll, waitForHttp, waitForLine } from './lib/procs.js'
import { fmt, median, table } from './lib/stats.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    json: { type: 'boolean', default: false },
  },
})
const DURATION = Number(values.duration)
const ROUNDS = Number(values.rounds)
const CONNECTIONS = Number(values.connections)
const LOAD_CORE = '0'
const PROXY_CORE = '1'
const PERCENTS = [0, 10, 100]

installCleanup()
const tmp = mkdtempSync(join(os.tmpdir(), 'switchyard-bench-mirror-'))
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }))

const upstreamPort = await freePort()
const upstream = launch('upstream', process.execPath, [join(ROOT, 'bench', 'upstream.js'), String(upstreamPort), '1'], {
  core: LOAD_CORE,
  pin: canPin,
})
const [greenPort] = (await waitForLine(upstream, /also ([\d,]+)/, 30_000))[1].split(',').map(Number)

const port = await freePort()
const adminPort = await freePort()
const config = {
  listen: { host: '127.0.0.1', port },
  admin: { host: '127.0.0.1', port: adminPort },
  upstreams: { blue: { targets: [`http://127.0.0.1:${upstreamPort}`] }, green: { targets: [`http://127.0.0.1:${greenPort}`] } },
  store: { type: 'file', path: join(tmp, 'state.json') },
  log: { level: 'warn' },
}
const file = join(tmp, 'config.json')
writeFileSync(file, JSON.stringify(config))
const proc = launch('switchyard', process.execPath, [join(ROOT, 'bin', 'switchyard.js'), 'serve', '--config', file], {
  core: PROXY_CORE,
  pin: canPin,
  cwd: tmp,
})
const url = `http://127.0.0.1:${port}`
const adminUrl = `http://127.0.0.1:${adminPort}`
await waitForHttp(`${url}/small`, { proc, timeoutMs: 30_000 })

async function adminCall(method, path, body) {
  const res = await fetch(adminUrl + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return res.json()
}

const load = startLoadWorker(canPin, LOAD_CORE)
await load.ready
const requests = [{ method: 'GET', path: '/small' }]

async function measure(percent) {
  await adminCall('PUT', '/v1/mirror', { percent })
  await load.run({ url, connections: CONNECTIONS, duration: 2, requests })
  await adminCall('POST', '/v1/shadow/reset', {})
  const rps = []
  const cpu = []
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = cpuSeconds(proc.child.pid)
    const res = await load.run({ url, connections: CONNECTIONS, duration: DURATION, requests })
    const c1 = cpuSeconds(proc.child.pid)
    if (res.errors > 0 || res.non2xx > 0) throw new Error(`mirror ${percent}%: ${res.errors} errors, ${res.non2xx} non-2xx`)
    rps.push(res.requestsPerSec)
    if (c0 !== null && c1 !== null) cpu.push(((c1 - c0) / res.requestsTotal) * 1e6)
  }
  const shadow = await adminCall('GET', '/v1/shadow')
  return {
    percent,
    rps: median(rps),
    cpuUs: cpu.length > 0 ? median(cpu) : null,
    rounds: rps,
    shadow: { sent: shadow.sent, dropped: shadow.dropped, errors: shadow.errors, samples: shadow.samples, mismatches: shadow.mismatches },
  }
}

// JIT and pools warm before the first figure, so 0% is not measured cold.
await load.run({ url, connections: CONNECTIONS, duration: 5, requests })
const results = []
for (const p of PERCENTS) results.push(await measure(p))
await stopAll()

const base = results[0]
const out = {
  node: process.version,
  cpus: os.cpus().length,
  pinned: canPin,
  results: results.map((r) => ({
    ...r,
    rpsRatio: r.rps / base.rps,
    cpuRatio: r.cpuUs !== null && base.cpuUs !== null ? r.cpuUs / base.cpuUs : null,
  })),
  goal: { costAt10: 0.1 },
}
if (values.json) {
  console.log(JSON.stringify(out, null, 2))
} else {
  console.log(
    `switchyard dark launch · ${out.cpus} cores · Node ${out.node} · ${ROUNDS} × ${DURATION}s, ${CONNECTIONS} connections, GET /small${canPin ? '' : ' (not pinned)'}\n`,
  )
  console.log(
    table(
      ['mirror', 'req/s (median)', '× 0%', 'CPU µs/req', '× 0%', 'copies sent', 'dropped', 'compared', 'mismatches'],
      out.results.map((r) => [
        `${r.percent}%`,
        fmt(r.rps),
        r.rpsRatio.toFixed(3),
        fmt(r.cpuUs, 1),
        r.cpuRatio === null ? '' : r.cpuRatio.toFixed(3),
        String(r.shadow.sent),
        String(r.shadow.dropped),
        String(r.shadow.samples),
        String(r.shadow.mismatches),
      ]),
    ),
  )
  const at10 = out.results[1]
  const cost = 1 - at10.rpsRatio
  console.log(
    `\ncost at 10%: ${(cost * 100).toFixed(1)}% of req/s (goal ≤ 10%: ${cost <= 0.1 ? 'met' : 'MISSED'}); CPU per request × ${at10.cpuRatio?.toFixed(3) ?? '?'}`,
  )
  console.log(
    `at 100%: ${((1 - out.results[2].rpsRatio) * 100).toFixed(1)}% of req/s, CPU per request × ${out.results[2].cpuRatio?.toFixed(3) ?? '?'} (every request sent twice and both answers compared)`,
  )
}
process.exit(0)
