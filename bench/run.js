#!/usr/bin/env node
/**
 * The benchmark race: one local upstream, every contender in its own process,
 * the load generator in another, all on 127.0.0.1. Contenders take turns
 * (A B C …, the start rotating each round) and the table shows medians over
 * the rounds. See docs/performance.md.
 *
 *   npm run bench                      full race (~4–5 min on 2 cores)
 *   npm run bench -- --quick           CI smoke: ~1.5 s per contender, one round
 *   npm run bench -- --only switchyard,bare-undici --scenario small --rounds 5
 */
import { fork } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { BENCH_USER, CONTENDERS, ROOT } from './lib/contenders.js'
import { canPin, cpuSeconds, installCleanup, launch, memoryOf, onPath, stopAll, waitForLine } from './lib/procs.js'
import { startLoadWorker } from './lib/load-worker.js'
import { fmt, markdownTable, median, sum, table } from './lib/stats.js'
import { runWrk, wrkScript } from './lib/wrk.js'

const SCENARIOS = [
  { id: 'small', title: 'small GET (13 B)', method: 'GET', path: '/small', bodyBytes: 0 },
  { id: '16k', title: '16 KiB response', method: 'GET', path: '/16k', bodyBytes: 0 },
  { id: 'post64k', title: '64 KiB POST', method: 'POST', path: '/upload', bodyBytes: 64 * 1024 },
]

const HELP = `usage: node bench/run.js [options]
  --duration <s>        seconds per measured run (default 2.5; quick 1.5)
  --connections <n>     keep-alive connections (default 50)
  --rounds <n>          rounds; each contender runs once per round (default 3; quick 1)
  --scenario <list>     small,16k,post64k or all (default all; quick small)
  --only <list>         contenders: ${CONTENDERS.map((c) => c.id).join(',')}
  --tool <t>            autocannon (default) or wrk (when installed)
  --quick               CI smoke: short, one round, one scenario, no half-load or memory runs
  --no-pin              do not pin processes to cores
  --no-half             skip the fixed-rate run at half of the max load
  --no-memory           skip the 1,000-connection memory run
  --memory-connections <n>  connections of the memory run (default 1000)
  --markdown            also print the tables as Markdown
  --serve-direct        start switchyard via dist/cli/serve.js instead of bin/switchyard.js
  -h, --help`

function options() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      connections: { type: 'string', default: '50' },
      rounds: { type: 'string' },
      scenario: { type: 'string' },
      only: { type: 'string' },
      tool: { type: 'string', default: 'autocannon' },
      quick: { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      'serve-direct': { type: 'boolean', default: false },
      'no-half': { type: 'boolean', default: false },
      'no-memory': { type: 'boolean', default: false },
      'memory-connections': { type: 'string', default: '1000' },
      markdown: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(HELP)
    process.exit(0)
  }
  const quick = values.quick
  const o = {
    quick,
    duration: Number(values.duration ?? (quick ? 1.5 : 2.5)),
    connections: Number(values.connections),
    rounds: Number(values.rounds ?? (quick ? 1 : 3)),
    tool: values.tool,
    pin: !values['no-pin'] && canPin && os.availableParallelism() >= 2,
    half: !values['no-half'] && !quick,
    memory: !values['no-memory'] && !quick,
    memoryConnections: Number(values['memory-connections']),
    markdown: values.markdown,
    serveDirect: values['serve-direct'],
  }
  const scen = values.scenario ?? (quick ? 'small' : 'all')
  o.scenarios = scen === 'all' ? SCENARIOS : scen.split(',').map((id) => {
    const s = SCENARIOS.find((x) => x.id === id)
    if (s === undefined) fail(`unknown scenario "${id}" (small, 16k, post64k, all)`)
    return s
  })
  const only = values.only?.split(',')
  for (const id of only ?? []) if (!CONTENDERS.some((c) => c.id === id)) fail(`unknown contender "${id}"`)
  o.contenders = CONTENDERS.filter((c) => only === undefined || only.includes(c.id))
  for (const k of ['duration', 'connections', 'rounds', 'memoryConnections']) {
    if (!(o[k] > 0)) fail(`--${k} must be a positive number`)
  }
  if (o.tool !== 'autocannon' && o.tool !== 'wrk') fail('--tool is autocannon or wrk')
  if (o.tool === 'wrk' && !onPath('wrk')) {
    console.log('bench: wrk is not installed (apt-get install wrk); using autocannon')
    o.tool = 'autocannon'
  }
  return o
}

function fail(msg) {
  console.error(`bench: ${msg}\n\n${HELP}`)
  process.exit(2)
}

function requestsOf(scenario) {
  const headers = { 'x-user-id': BENCH_USER }
  if (scenario.bodyBytes > 0) headers['content-type'] = 'application/octet-stream'
  return headers
}

function cannonOpts(url, scenario, { connections, duration, overallRate }) {
  const req = { method: scenario.method, path: scenario.path, headers: requestsOf(scenario) }
  if (scenario.bodyBytes > 0) req.body = Buffer.alloc(scenario.bodyBytes, 'x').toString('base64')
  const o = { url, connections, duration, pipelining: 1, timeout: 10, requests: [req] }
  if (overallRate !== undefined) o.overallRate = overallRate
  return o
}

function machine() {
  const cpus = os.cpus()
  return {
    cpus: cpus.length,
    model: cpus[0]?.model ?? 'unknown',
    memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavgAtStart: os.loadavg().map((x) => +x.toFixed(2)),
  }
}

function goalMark(ok) {
  return ok === null ? '' : ok ? 'met' : 'MISSED'
}

async function main() {
  const o = options()
  installCleanup()
  const started = new Date()
  const tmp = mkdtempSync(join(os.tmpdir(), 'switchyard-bench-'))
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }))
  const LOAD_CORE = 0
  const PROXY_CORE = 1
  const pinNote = o.pin
    ? `pinned with taskset: proxy under test on core ${PROXY_CORE}; upstream and load generator on core ${LOAD_CORE}`
    : 'not pinned (taskset missing, fewer than 2 cores, or --no-pin)'
  const m = machine()
  console.log(`switchyard bench · ${m.cpus} × ${m.model} · Node ${m.node} · load avg ${m.loadavgAtStart.join(' ')}`)
  console.log(`tool: ${o.tool} · ${o.connections} connections · ${o.duration}s × ${o.rounds} round(s) · scenarios: ${o.scenarios.map((s) => s.id).join(', ')}`)
  console.log(pinNote)
  if (m.loadavgAtStart[0] > 0.5) console.log(`note: the machine is busy (load ${m.loadavgAtStart[0]}): numbers will be noisy`)

  const load = startLoadWorker(o.pin, LOAD_CORE)
  await load.ready
  const upstream = launch('upstream', process.execPath, [join(ROOT, 'bench', 'upstream.js')], { core: LOAD_CORE, pin: o.pin })
  const upPort = (await waitForLine(upstream, /listening (\d+)/))[1]
  const ctx = { tmp, pin: o.pin, serveDirect: o.serveDirect, proxyCore: PROXY_CORE, upstream, upstreamUrl: `http://127.0.0.1:${upPort}` }

  // Start every contender at once (start-up is mostly waiting); one that
  // fails becomes an error row, not a crash.
  const entries = await Promise.all(o.contenders.map(async (c) => {
    const e = { id: c.id, label: c.label, about: c.about, isSwitchyard: c.isSwitchyard === true, error: null, skipped: false }
    try {
      Object.assign(e, await c.start(ctx))
    } catch (err) {
      e.error = err.message
      e.skipped = err.skip === true
    }
    return e
  }))
  console.log(`  contenders started in ${((Date.now() - started) / 1000).toFixed(1)}s`)
  for (const e of entries) {
    if (e.error === null) console.log(`  ready   ${e.label.padEnd(30)} ${e.url}  pid ${e.proc.pid}${e.info?.color ? `  (bench requests → ${e.info.color})` : ''}`)
    else console.log(`  ${e.skipped ? 'skipped' : 'ERROR  '} ${e.label.padEnd(30)} ${e.error}`)
  }
  const alive = (e) => e.error === null && (e.proc === undefined || e.proc.exited === null)

  async function measure(e, scenario, runOpts, tool = o.tool) {
    if (tool === 'wrk') {
      scenario.wrkScript ??= wrkScript(tmp, { ...scenario, headers: requestsOf(scenario) })
      return runWrk({ url: e.url, connections: runOpts.connections, duration: runOpts.duration, script: scenario.wrkScript, core: LOAD_CORE, pin: o.pin })
    }
    return load.run(cannonOpts(e.url, scenario, runOpts))
  }

  async function measureSafely(e, scenario, runOpts, tool) {
    if (!alive(e)) return null
    try {
      const pid = e.proc?.pid
      const cpu0 = pid === undefined ? null : cpuSeconds(pid)
      const r = await measure(e, scenario, runOpts, tool)
      const cpu1 = pid === undefined ? null : cpuSeconds(pid)
      r.cpuSec = cpu0 === null || cpu1 === null ? null : cpu1 - cpu0
      r.cpuUsPerRequest = r.cpuSec === null || r.requestsTotal === 0 ? null : (r.cpuSec * 1e6) / r.requestsTotal
      if (e.proc !== undefined && e.proc.exited !== null) throw new Error(`exited during the run (${JSON.stringify(e.proc.exited)})`)
      // A proxy that stops answering shows as no responses, not as errors.
      if (r.requestsTotal === 0) throw new Error(`no response in ${runOpts.duration}s (stalled)`)
      return r
    } catch (err) {
      e.error = `${scenario.id}: ${err.message}`
      console.log(`  ERROR   ${e.label}: ${e.error}`)
      return null
    }
  }

  const results = { scenarios: {} }
  for (const scenario of o.scenarios) {
    console.log(`\n▶ ${scenario.title}`)
    // JIT and pools warm up in the first scenario; later ones only need the
    // new paths. On a busy box a cold Node proxy spends several seconds
    // (interpreted code, compile jobs starved) at 3-20x its warm CPU per request.
    const warm = o.quick ? 1.5 : scenario === o.scenarios[0] ? 3 : 0.5
    for (const e of entries) await measureSafely(e, scenario, { connections: o.connections, duration: warm })
    const rounds = Object.fromEntries(entries.map((e) => [e.id, []]))
    for (let r = 0; r < o.rounds; r++) {
      const order = entries.map((_, i) => entries[(i + r) % entries.length])
      const line = []
      for (const e of order) {
        const res = await measureSafely(e, scenario, { connections: o.connections, duration: o.duration })
        if (res !== null) {
          rounds[e.id].push(res)
          line.push(`${e.id} ${fmt(res.requestsPerSec)}`)
        }
      }
      console.log(`  round ${r + 1}/${o.rounds}: ${line.join(' · ')}`)
    }
    const summary = {}
    for (const e of entries) {
      const rs = rounds[e.id]
      if (rs.length === 0) continue
      summary[e.id] = {
        requestsPerSec: median(rs.map((x) => x.requestsPerSec)),
        minRequestsPerSec: Math.min(...rs.map((x) => x.requestsPerSec)),
        maxRequestsPerSec: Math.max(...rs.map((x) => x.requestsPerSec)),
        p50Ms: median(rs.map((x) => x.latencyMs.p50)),
        p99Ms: median(rs.map((x) => x.latencyMs.p99)),
        cpuUsPerRequest: median(rs.map((x) => x.cpuUsPerRequest)),
        errors: sum(rs.map((x) => x.errors + x.timeouts)),
        non2xx: sum(rs.map((x) => x.non2xx)),
        requests: sum(rs.map((x) => x.requestsTotal)),
      }
    }
    results.scenarios[scenario.id] = { title: scenario.title, tool: o.tool, rounds, summary }
  }

  // Prove metrics are on: scrape the full switchyard once, after it served load.
  const full = entries.find((e) => e.id === 'switchyard-full')
  if (full !== undefined && alive(full)) {
    try {
      const res = await fetch(`${full.info.admin}/metrics`, { signal: AbortSignal.timeout(5000) })
      const text = await res.text()
      const reqLines = text.split('\n').filter((l) => l.startsWith('switchyard_requests_total'))
      const total = reqLines.reduce((a, l) => a + Number(l.split(' ').pop()), 0)
      results.metricsScrape = { status: res.status, bytes: text.length, series: reqLines.length, requestsTotal: total }
      console.log(`\nmetrics: GET /metrics → ${res.status}, ${text.length} bytes, switchyard_requests_total = ${fmt(total)} over ${reqLines.length} series`)
    } catch (err) {
      results.metricsScrape = { error: err.message }
      console.log(`\nmetrics: scrape failed: ${err.message}`)
    }
  }

  // p99 added over direct at half of the max load (fixed rate, autocannon).
  const first = o.scenarios[0]
  const firstSummary = results.scenarios[first.id].summary
  const ref = firstSummary['switchyard-full'] ?? firstSummary['switchyard'] ?? firstSummary['bare-undici']
  if (o.half && ref !== undefined) {
    const rate = Math.max(100, Math.round(ref.requestsPerSec / 2))
    console.log(`\n▶ half load: ${first.title} at a fixed ${fmt(rate)} req/s (half of the measured max), autocannon overallRate`)
    const half = { scenario: first.id, rate, tool: 'autocannon', results: {} }
    for (const e of entries) {
      if (!['direct', 'switchyard', 'switchyard-full', 'bare-undici', 'nginx'].includes(e.id)) continue
      const r = await measureSafely(e, first, { connections: o.connections, duration: Math.max(2, o.duration), overallRate: rate }, 'autocannon')
      if (r !== null) half.results[e.id] = r
    }
    results.halfLoad = half
  }

  // Peak RSS under many keep-alive connections.
  if (o.memory) {
    console.log(`\n▶ memory: ${o.memoryConnections} keep-alive connections, small GET, 4 s`)
    results.memory = { connections: o.memoryConnections, results: {} }
    for (const e of entries) {
      if (!['switchyard', 'switchyard-full', 'bare-undici'].includes(e.id) || !alive(e)) continue
      const before = memoryOf(e.proc.pid)
      // VmHWM covers the whole life, start-up spike included (module loading,
      // wasm compiling); sampling VmRSS shows the peak under this load alone.
      let sampled = before.rssMiB ?? 0
      const timer = setInterval(() => { sampled = Math.max(sampled, memoryOf(e.proc.pid).rssMiB ?? 0) }, 100)
      const r = await measureSafely(e, o.scenarios.find((s) => s.id === 'small') ?? SCENARIOS[0], { connections: o.memoryConnections, duration: 4 }, 'autocannon')
      clearInterval(timer)
      const after = memoryOf(e.proc.pid)
      results.memory.results[e.id] = { beforeRssMiB: before.rssMiB, peakRssMiB: after.hwmMiB, sampledPeakRssMiB: Math.max(sampled, after.rssMiB ?? 0), afterRssMiB: after.rssMiB, run: r }
    }
  }

  // ---- report ----
  const finished = new Date()
  const out = []
  const print = (s = '') => { out.push(s); console.log(s) }
  print(`\n=== results (${o.tool}; medians of ${o.rounds} round(s) × ${o.duration}s, ${o.connections} connections) ===`)
  const md = []
  for (const scenario of o.scenarios) {
    const s = results.scenarios[scenario.id].summary
    const header = ['contender', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'spread', 'CPU µs/req']
    const rows = entries.map((e) => {
      const x = s[e.id]
      if (x === undefined) return [e.label, '–', '–', '–', '–', '–', e.skipped ? 'skipped' : `ERROR ${e.error ?? ''}`.slice(0, 60), '–']
      const spread = x.requestsPerSec > 0 ? ((x.maxRequestsPerSec - x.minRequestsPerSec) / x.requestsPerSec) * 100 : 0
      return [e.label, fmt(x.requestsPerSec), fmt(x.p50Ms, 2), fmt(x.p99Ms, 2), fmt(x.errors), fmt(x.non2xx), `±${fmt(spread / 2, 0)}%`, fmt(x.cpuUsPerRequest, 1)]
    })
    print(`\n${scenario.title} — ${o.tool}`)
    print(table(header, rows))
    md.push(`**${scenario.title}** (${o.tool})\n\n${markdownTable(header, rows)}`)
  }

  // Ratios of switchyard to each peer, per scenario, with the issue's goals.
  const goals = { 'bare-undici': 0.9, 'http-proxy': 1.3, 'fastify-proxy': 1.4, nginx: 0.5 }
  const ratioRows = []
  results.ratios = {}
  for (const sy of ['switchyard-full', 'switchyard']) {
    for (const peer of Object.keys(goals)) {
      const row = [`${sy} / ${peer}`]
      for (const scenario of o.scenarios) {
        const s = results.scenarios[scenario.id].summary
        const a = s[sy]?.requestsPerSec
        const b = s[peer]?.requestsPerSec
        const ratio = a !== undefined && b !== undefined && b > 0 ? a / b : null
        results.ratios[`${sy}/${peer}/${scenario.id}`] = ratio
        row.push(ratio === null ? '–' : `${ratio.toFixed(2)}`)
      }
      const r0 = results.ratios[`${sy}/${peer}/${o.scenarios[0].id}`]
      row.push(`≥ ${goals[peer].toFixed(2)}${peer === 'nginx' ? ' (stretch)' : ''}`)
      row.push(sy === 'switchyard-full' ? goalMark(r0 === null ? null : r0 >= goals[peer]) : '')
      ratioRows.push(row)
    }
  }
  // The peers among themselves, to compare with the issue's first measurement.
  for (const [a, b] of [['bare-undici', 'http-proxy'], ['bare-undici', 'fastify-proxy'], ['nginx', 'bare-undici']]) {
    const row = [`${a} / ${b}`]
    for (const scenario of o.scenarios) {
      const s = results.scenarios[scenario.id].summary
      const x = s[a]?.requestsPerSec
      const y = s[b]?.requestsPerSec
      row.push(x !== undefined && y !== undefined && y > 0 ? (x / y).toFixed(2) : '–')
    }
    row.push('(reference)', '')
    ratioRows.push(row)
  }
  // The same comparison by CPU per request (peer's µs ÷ switchyard's µs):
  // what a core would deliver, much less sensitive to other load on the box.
  for (const sy of ['switchyard-full', 'switchyard']) {
    for (const peer of Object.keys(goals)) {
      const row = [`${sy} / ${peer} (by CPU)`]
      for (const scenario of o.scenarios) {
        const s = results.scenarios[scenario.id].summary
        const a = s[sy]?.cpuUsPerRequest
        const b = s[peer]?.cpuUsPerRequest
        const ratio = a != null && b != null && a > 0 ? b / a : null
        results.ratios[`${sy}/${peer}/${scenario.id}/cpu`] = ratio
        row.push(ratio === null ? '–' : ratio.toFixed(2))
      }
      const r0 = results.ratios[`${sy}/${peer}/${o.scenarios[0].id}/cpu`]
      row.push(`≥ ${goals[peer].toFixed(2)}${peer === 'nginx' ? ' (stretch)' : ''}`)
      row.push(sy === 'switchyard-full' ? goalMark(r0 === null ? null : r0 >= goals[peer]) : '')
      ratioRows.push(row)
    }
  }
  const ratioHeader = ['ratio', ...o.scenarios.map((s) => s.id), 'goal', `goal (${o.scenarios[0].id})`]
  print(`\nratios of medians: req/s, and (by CPU) the peer's CPU µs per request ÷ switchyard's`)
  print(table(ratioHeader, ratioRows))
  md.push(`**Ratios** (medians; "by CPU" = peer's CPU µs per request ÷ switchyard's)\n\n${markdownTable(ratioHeader, ratioRows)}`)

  if (results.halfLoad !== undefined) {
    const h = results.halfLoad
    const d = h.results.direct?.latencyMs
    const header = ['contender', 'achieved req/s', 'p50 ms', 'p99 ms', 'p99 added ms', 'goal ≤ 1 ms']
    const rows = Object.entries(h.results).map(([id, r]) => {
      const added = d !== undefined && id !== 'direct' ? r.latencyMs.p99 - d.p99 : null
      const label = entries.find((e) => e.id === id).label
      return [label, fmt(r.requestsPerSec), fmt(r.latencyMs.p50, 2), fmt(r.latencyMs.p99, 2), added === null ? '–' : fmt(added, 2),
        id.startsWith('switchyard') && added !== null ? goalMark(added <= 1) : '']
    })
    for (const [id, r] of Object.entries(h.results)) r.p99AddedMs = d !== undefined && id !== 'direct' ? r.latencyMs.p99 - d.p99 : null
    print(`\nhalf load: ${h.scenario} at ${fmt(h.rate)} req/s (autocannon overallRate, latency with µs resolution)`)
    print(table(header, rows))
    md.push(`**Half load** (${h.scenario} at ${fmt(h.rate)} req/s, autocannon)\n\n${markdownTable(header, rows)}`)
  }
  if (results.memory !== undefined) {
    const header = ['process', 'RSS before MiB', 'peak RSS under load MiB', 'VmHWM (life) MiB', 'req/s', 'errors', 'goal ≤ 143 MiB (150 MB)']
    const rows = Object.entries(results.memory.results).map(([id, x]) => [
      entries.find((e) => e.id === id).label, fmt(x.beforeRssMiB, 1), fmt(x.sampledPeakRssMiB, 1), fmt(x.peakRssMiB, 1), fmt(x.run?.requestsPerSec),
      fmt((x.run?.errors ?? 0) + (x.run?.timeouts ?? 0)), id.startsWith('switchyard') ? goalMark(x.peakRssMiB !== null && x.peakRssMiB <= 143) : '',
    ])
    print(`\nmemory at ${results.memory.connections} keep-alive connections (autocannon, 4 s)`)
    print(table(header, rows))
    md.push(`**Memory** (${results.memory.connections} keep-alive connections)\n\n${markdownTable(header, rows)}`)
  }
  if (o.markdown) console.log(`\n--- markdown ---\n\n${md.join('\n\n')}\n`)

  const failed = entries.filter((e) => e.error !== null && !e.skipped)
  for (const e of entries.filter((x) => x.error !== null)) print(`${e.skipped ? 'skipped' : 'error'}: ${e.label}: ${e.error}`)
  const json = {
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    seconds: Math.round((finished - started) / 1000),
    machine: { ...m, loadavgAtEnd: os.loadavg().map((x) => +x.toFixed(2)) },
    options: { ...o, scenarios: o.scenarios.map((s) => s.id), contenders: o.contenders.map((c) => c.id) },
    pinning: pinNote,
    contenders: entries.map((e) => ({ id: e.id, label: e.label, about: e.about, url: e.url, pid: e.proc?.pid, info: e.info, error: e.error, skipped: e.skipped })),
    ...results,
  }
  const dir = join(ROOT, 'bench', 'results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify(json, null, 2))
  console.log(`\nresults: ${file} (${json.seconds}s)`)

  await stopAll()
  rmSync(tmp, { recursive: true, force: true })
  if (failed.length > 0) {
    console.log(`bench: ${failed.length} contender(s) failed: ${failed.map((e) => e.id).join(', ')}`)
    process.exitCode = 1
  }
}

main().catch(async (err) => {
  console.error(`bench: ${err.stack ?? err}`)
  await stopAll()
  process.exit(1)
})
