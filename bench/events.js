/**
 * What open dashboards cost the proxy: req/s with 0 and with 50 open
 * GET /v1/events streams, in one run.
 *
 *   npm run bench:events               (build first: npm run build)
 *   node bench/events.js --streams 50 --duration 8 --rounds 3
 *
 * One upstream and the load generator on one core, the router on the other.
 * Rounds alternate (0 streams, N streams, 0, N, …) so drift on a shared box
 * hits both sides; the streams are read (and dropped) by this process, and
 * the router sends each of them one `stats` event per app per second.
 * Reports the median req/s and CPU µs per request of each side and the
 * ratio (goal: ≥ 0.97). With no stream open the events code runs nothing
 * at all (no timer, nothing per request), which is what the 0 side measures.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT } from './lib/contenders.js'
import { startLoadWorker } from './lib/load-worker.js'
import { canPin, cpuSeconds, freePort, installCleanup, launch, stop, stopAll, waitForHttp, waitForLine } from './lib/procs.js'
import { fmt, median, table } from './lib/stats.js'

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '50' },
    duration: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    json: { type: 'boolean', default: false },
  },
})
const STREAMS = Number(values.streams)
const DURATION = Number(values.duration)
const ROUNDS = Number(values.rounds)
const CONNECTIONS = Number(values.connections)
const LOAD_CORE = '0'
const PROXY_CORE = '1'
const TOKEN = 'bench-events-token'

installCleanup()
const tmp = mkdtempSync(join(os.tmpdir(), 'switchyard-bench-events-'))
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }))

const upstreamPort = await freePort()
const upstream = launch('upstream', process.execPath, [join(ROOT, 'bench', 'upstream.js'), String(upstreamPort), '2'], {
  core: LOAD_CORE,
  pin: canPin,
})
const ports = (await waitForLine(upstream, /also ([\d,]+)/, 30_000))[1].split(',').map(Number)

const port = await freePort()
const adminPort = await freePort()
const config = {
  log: { level: 'warn' },
  listen: { host: '127.0.0.1', port },
  admin: { host: '127.0.0.1', port: adminPort, token: TOKEN },
  store: { type: 'file', path: join(tmp, 'state.json') },
  apps: {
    shop: {
      hosts: ['shop.bench.test'],
      upstreams: { blue: { targets: [`http://127.0.0.1:${ports[0]}`] }, green: { targets: [`http://127.0.0.1:${ports[1]}`] } },
    },
    blog: {
      hosts: ['blog.bench.test'],
      upstreams: { blue: { targets: [`http://127.0.0.1:${ports[1]}`] }, green: { targets: [`http://127.0.0.1:${ports[0]}`] } },
    },
  },
  defaultApp: 'shop',
}
const file = join(tmp, 'config.json')
writeFileSync(file, JSON.stringify(config))
const router = launch('switchyard', process.execPath, [join(ROOT, 'bin', 'switchyard.js'), 'serve', '--config', file], {
  core: PROXY_CORE,
  pin: canPin,
  cwd: tmp,
})
const url = `http://127.0.0.1:${port}`
const adminUrl = `http://127.0.0.1:${adminPort}`
await waitForHttp(`${url}/small`, { proc: router, timeoutMs: 30_000, headers: { host: 'shop.bench.test' } })

const load = startLoadWorker(canPin, LOAD_CORE)
await load.ready
const requests = ['shop.bench.test', 'blog.bench.test'].map((host, i) => ({
  method: 'GET',
  path: '/small',
  headers: { host, 'x-user-id': `visitor-${i}` },
}))

/** Opens n event streams that read and discard; resolves once each got its first state. */
async function openStreams(n) {
  const aborts = []
  let bytes = 0
  await Promise.all(
    Array.from({ length: n }, async () => {
      const abort = new AbortController()
      aborts.push(abort)
      const res = await fetch(`${adminUrl}/v1/events`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: abort.signal })
      if (res.status !== 200) throw new Error(`GET /v1/events answered ${res.status}`)
      const reader = res.body.getReader()
      const first = await reader.read()
      bytes += first.value?.length ?? 0
      void (async () => {
        try {
          for (;;) {
            const { value, done } = await reader.read()
            if (done) return
            bytes += value.length
          }
        } catch {
          // closed by us
        }
      })()
    }),
  )
  return {
    bytes: () => bytes,
    close: () => aborts.forEach((a) => a.abort()),
  }
}

async function round() {
  const c0 = cpuSeconds(router.child.pid)
  const res = await load.run({ url, connections: CONNECTIONS, duration: DURATION, requests })
  const c1 = cpuSeconds(router.child.pid)
  if (res.errors > 0 || res.non2xx > 0) throw new Error(`${res.errors} errors, ${res.non2xx} non-2xx`)
  return { rps: res.requestsPerSec, cpuUs: c0 !== null && c1 !== null ? ((c1 - c0) / res.requestsTotal) * 1e6 : null }
}

await load.run({ url, connections: CONNECTIONS, duration: 2, requests }) // warm-up
const sides = { 0: [], [STREAMS]: [] }
let eventBytes = 0
for (let r = 0; r < ROUNDS; r++) {
  sides[0].push(await round())
  const s = await openStreams(STREAMS)
  const b0 = s.bytes()
  sides[STREAMS].push(await round())
  eventBytes += s.bytes() - b0
  s.close()
  await new Promise((res) => setTimeout(res, 500))
}
await stop(router)
await stopAll()

const summary = (list) => ({
  rps: median(list.map((x) => x.rps)),
  cpuUs: list.every((x) => x.cpuUs !== null) ? median(list.map((x) => x.cpuUs)) : null,
  rounds: list.map((x) => Math.round(x.rps)),
})
const none = summary(sides[0])
const open = summary(sides[STREAMS])
const ratio = open.rps / none.rps
const out = {
  node: process.version,
  cpus: os.cpus().length,
  load: os.loadavg()[0],
  streams: STREAMS,
  rps: { none: none.rps, open: open.rps, ratio, rounds: { none: none.rounds, open: open.rounds } },
  cpuUsPerRequest: { none: none.cpuUs, open: open.cpuUs },
  eventBytesPerStreamPerSecond: eventBytes / ROUNDS / DURATION / STREAMS,
  goal: { ratio: 0.97 },
}
if (values.json) {
  console.log(JSON.stringify(out, null, 2))
} else {
  console.log(
    `switchyard events · ${out.cpus} cores · Node ${out.node} · load avg ${out.load.toFixed(1)} · 2 apps · ${ROUNDS} × ${DURATION}s per side, ${CONNECTIONS} connections\n`,
  )
  console.log(
    table(
      ['open /v1/events streams', 'req/s (median)', 'CPU µs/req', 'rounds'],
      [
        ['0', fmt(none.rps), fmt(none.cpuUs, 1), none.rounds.join(' ')],
        [String(STREAMS), fmt(open.rps), fmt(open.cpuUs, 1), open.rounds.join(' ')],
      ],
    ),
  )
  console.log(
    `\n${STREAMS} streams / none: ${ratio.toFixed(3)} × req/s (goal ≥ 0.97: ${ratio >= 0.97 ? 'met' : 'MISSED'}); each stream got ${fmt(out.eventBytesPerStreamPerSecond, 0)} B/s of events`,
  )
}
process.exit(0)
