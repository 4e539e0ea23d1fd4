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
 *   npm run bench -- --with bare-undici8,bare-undici-v8api   the optional undici 8 references too
 *   npm run bench -- --node /usr/bin/node   every Node contender also on that Node, same rounds
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { APP_COUNT, BENCH_APP, BENCH_HOST, ROOT, olderThan } from './lib/contenders.js'
import { startLoadWorker } from './lib/load-worker.js'
import { alive, measurer } from './lib/measure.js'
import { SCENARIOS, machine, options } from './lib/options.js'
import { installCleanup, launch, memoryOf, stopAll, waitForLine } from './lib/procs.js'
import { printReport, saveResults } from './lib/report.js'
import { fmt, median, sum } from './lib/stats.js'

const LOAD_CORE = 0
const PROXY_CORE = 1

function printHeader(o, m, pinNote) {
  console.log(`switchyard bench · ${m.cpus} × ${m.model} · Node ${m.node} · load avg ${m.loadavgAtStart.join(' ')}`)
  console.log(
    `tool: ${o.tool} · ${o.connections} connections · ${o.duration}s × ${o.rounds} round(s) · scenarios: ${o.scenarios.map((s) => s.id).join(', ')}`,
  )
  console.log(`requests: Host ${BENCH_HOST} (switchyard-full: app ${BENCH_APP} of ${APP_COUNT}, by wildcard) · x-user-id`)
  for (const n of o.nodes)
    console.log(`also on Node ${n.version} (${n.path}): every Node contender, as <id>@node${n.version.split('.')[0]}`)
  console.log(pinNote)
  if (m.loadavgAtStart[0] > 0.5) console.log(`note: the machine is busy (load ${m.loadavgAtStart[0]}): numbers will be noisy`)
}

/**
 * Starts every contender at once (start-up is mostly waiting); one that
 * fails becomes an error row, not a crash.
 */
async function startContenders(o, ctx, started) {
  const entries = await Promise.all(
    o.contenders.map(async (c) => {
      const e = {
        id: c.id,
        label: c.label,
        about: c.about,
        isSwitchyard: c.isSwitchyard === true,
        baseId: c.baseId,
        nodeVersion: c.nodeVersion ?? process.versions.node,
        error: null,
        skipped: false,
      }
      try {
        if (c.minNode !== undefined && olderThan(e.nodeVersion, c.minNode)) {
          throw Object.assign(new Error(`needs Node ≥ ${c.minNode}, this is ${e.nodeVersion}`), { skip: true })
        }
        Object.assign(e, await c.start(ctx))
      } catch (err) {
        e.error = err.message
        e.skipped = err.skip === true
      }
      return e
    }),
  )
  console.log(`  contenders started in ${((Date.now() - started) / 1000).toFixed(1)}s`)
  const pad = Math.max(...entries.map((e) => e.label.length))
  for (const e of entries) {
    if (e.error === null)
      console.log(
        `  ready   ${e.label.padEnd(pad)} ${e.url}  pid ${e.proc.pid}${e.info?.color ? `  (bench requests → ${e.info.color})` : ''}`,
      )
    else console.log(`  ${e.skipped ? 'skipped' : 'ERROR  '} ${e.label.padEnd(pad)} ${e.error}`)
  }
  return entries
}

/** Medians (and totals) over the rounds of each contender that answered. */
function summarize(entries, rounds, paired) {
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
    // Paired rounds ran every contender at once: ratios are taken round by round.
    if (paired) summary[e.id].pairedRequestsPerSec = rs.map((x) => x.requestsPerSec)
  }
  return summary
}

/** Warm-up, then `o.rounds` rounds with the starting contender rotating. */
async function runScenario(o, entries, measureSafely, scenario) {
  console.log(`\n▶ ${scenario.title}`)
  // JIT and pools warm up in the first scenario; later ones only need the
  // new paths. On a busy box a cold Node proxy spends several seconds
  // (interpreted code, compile jobs starved) at 3-20x its warm CPU per request.
  const warm = o.quick ? 1.5 : scenario === o.scenarios[0] ? 3 : 0.5
  for (const e of entries) await measureSafely(e, scenario, { connections: o.connections, duration: warm })
  const rounds = Object.fromEntries(entries.map((e) => [e.id, []]))
  if (o.paired) return pairedScenario(o, entries, measureSafely, scenario)
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
  return { title: scenario.title, tool: o.tool, rounds, summary: summarize(entries, rounds, false) }
}

/**
 * `--paired`: every round loads all contenders at the same time (one wrk
 * each, all pinned with the upstream), all proxies pinned to the same core.
 * Whatever else the machine does then hits every contender alike, so the
 * ratio within a round stays steady where back-to-back runs swing by ±30%
 * on a shared box. Absolute req/s are a share of one core, not a maximum.
 */
async function pairedScenario(o, entries, measureSafely, scenario, count = o.rounds, tool = o.tool) {
  const rounds = Object.fromEntries(entries.map((e) => [e.id, []]))
  for (let r = 0; r < count; r++) {
    const runs = await Promise.all(
      entries.map((e) => measureSafely(e, scenario, { connections: o.connections, duration: o.duration }, tool)),
    )
    // A round counts only when every contender answered: its ratios compare like with like.
    if (runs.some((x) => x === null)) continue
    runs.forEach((x, i) => rounds[entries[i].id].push(x))
    console.log(`  round ${r + 1}/${count} (paired): ${runs.map((x, i) => `${entries[i].id} ${fmt(x.requestsPerSec)}`).join(' · ')}`)
  }
  return { title: scenario.title, tool, paired: true, rounds, summary: summarize(entries, rounds, true) }
}

/** The contenders the paired check loads together: switchyard-full and the peers it has goals against. */
const PAIRED_CHECK = ['switchyard-full', 'bare-undici', 'http-proxy', 'fastify-proxy']

/**
 * After the race, when wrk is installed: every scenario again with
 * switchyard-full and its goal peers loaded at the same time (see
 * pairedScenario). The race's turns leave one slow turn free to move a
 * median of three by 10–20% on a shared box; the paired rounds' ratios hold
 * within ±3–5%, so the goals' verdicts are taken from here.
 */
async function pairedCheck(o, entries, measureSafely) {
  const subset = entries.filter((e) => PAIRED_CHECK.includes(e.id) && alive(e))
  if (!subset.some((e) => e.id === 'switchyard-full') || subset.length < 2) return undefined
  const check = { rounds: o.pairedRounds, contenders: subset.map((e) => e.id), scenarios: {} }
  for (const scenario of o.scenarios) {
    console.log(`\n▶ paired check: ${scenario.title} (${subset.map((e) => e.id).join(', ')} at the same time)`)
    check.scenarios[scenario.id] = await pairedScenario(o, subset, measureSafely, scenario, o.pairedRounds, 'wrk')
  }
  return check
}

/** Proves metrics are on: scrapes the full switchyard once, after it served load. */
async function scrapeMetrics(full) {
  try {
    const res = await fetch(`${full.info.admin}/metrics`, { signal: AbortSignal.timeout(5000) })
    const text = await res.text()
    // Only the bench app's series: proves the requests reached it through its wildcard.
    const reqLines = text.split('\n').filter((l) => l.startsWith('switchyard_requests_total') && l.includes(`app="${BENCH_APP}"`))
    const total = reqLines.reduce((a, l) => a + Number(l.split(' ').pop()), 0)
    console.log(
      `\nmetrics: GET /metrics → ${res.status}, ${text.length} bytes, switchyard_requests_total{app="${BENCH_APP}"} = ${fmt(total)} over ${reqLines.length} series`,
    )
    return { status: res.status, bytes: text.length, app: BENCH_APP, series: reqLines.length, requestsTotal: total }
  } catch (err) {
    console.log(`\nmetrics: scrape failed: ${err.message}`)
    return { error: err.message }
  }
}

/** p99 added over direct at half of the max load (fixed rate, autocannon). */
async function halfLoad(o, entries, measureSafely, ref) {
  const first = o.scenarios[0]
  const rate = Math.max(100, Math.round(ref.requestsPerSec / 2))
  console.log(`\n▶ half load: ${first.title} at a fixed ${fmt(rate)} req/s (half of the measured max), autocannon overallRate`)
  const half = { scenario: first.id, rate, tool: 'autocannon', results: {} }
  for (const e of entries) {
    if (!['direct', 'switchyard', 'switchyard-full', 'bare-undici', 'nginx'].includes(e.id)) continue
    const r = await measureSafely(
      e,
      first,
      { connections: o.connections, duration: Math.max(2, o.duration), overallRate: rate },
      'autocannon',
    )
    if (r !== null) half.results[e.id] = r
  }
  return half
}

/**
 * RSS of each started contender before any load (issue 14's idle goal), a
 * second after the last one started. switchyard-full has had its canary and
 * cohorts set through the admin API by then.
 */
async function idleMemory(entries) {
  await new Promise((r) => setTimeout(r, 1000))
  for (const e of entries) if (alive(e)) e.idleMemory = memoryOf(e.proc.pid)
}

/** Peak RSS under many keep-alive connections. */
async function memoryRun(o, entries, measureSafely) {
  console.log(`\n▶ memory: ${o.memoryConnections} keep-alive connections, small GET, 4 s`)
  const memory = { connections: o.memoryConnections, results: {} }
  for (const e of entries) {
    if (!['switchyard', 'switchyard-full', 'bare-undici'].includes(e.id) || !alive(e)) continue
    const before = memoryOf(e.proc.pid)
    // VmHWM covers the whole life, start-up spike included (module loading,
    // wasm compiling); sampling VmRSS shows the peak under this load alone.
    let sampled = before.rssMiB ?? 0
    const timer = setInterval(() => {
      sampled = Math.max(sampled, memoryOf(e.proc.pid).rssMiB ?? 0)
    }, 100)
    const r = await measureSafely(
      e,
      o.scenarios.find((s) => s.id === 'small') ?? SCENARIOS[0],
      { connections: o.memoryConnections, duration: 4 },
      'autocannon',
    )
    clearInterval(timer)
    const after = memoryOf(e.proc.pid)
    memory.results[e.id] = {
      idleRssMiB: e.idleMemory?.rssMiB ?? null,
      beforeRssMiB: before.rssMiB,
      peakRssMiB: after.hwmMiB,
      sampledPeakRssMiB: Math.max(sampled, after.rssMiB ?? 0),
      afterRssMiB: after.rssMiB,
      run: r,
    }
  }
  return memory
}

/** Every measurement of the run, in the order the JSON lists them. */
async function race(o, entries, measureSafely) {
  const results = { scenarios: {} }
  for (const scenario of o.scenarios) results.scenarios[scenario.id] = await runScenario(o, entries, measureSafely, scenario)
  if (o.pairedCheck) results.pairedCheck = await pairedCheck(o, entries, measureSafely)
  const full = entries.find((e) => e.id === 'switchyard-full')
  if (full !== undefined && alive(full)) results.metricsScrape = await scrapeMetrics(full)
  const firstSummary = results.scenarios[o.scenarios[0].id].summary
  const ref = firstSummary['switchyard-full'] ?? firstSummary['switchyard'] ?? firstSummary['bare-undici']
  if (o.half && ref !== undefined) results.halfLoad = await halfLoad(o, entries, measureSafely, ref)
  if (o.memory) results.memory = await memoryRun(o, entries, measureSafely)
  return results
}

async function main() {
  const o = options()
  installCleanup()
  const started = new Date()
  const tmp = mkdtempSync(join(os.tmpdir(), 'switchyard-bench-'))
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }))
  const pinNote = o.pin
    ? `pinned with taskset: proxy under test on core ${PROXY_CORE}; upstream and load generator on core ${LOAD_CORE}`
    : 'not pinned (taskset missing, fewer than 2 cores, or --no-pin)'
  const m = machine()
  printHeader(o, m, pinNote)

  const load = startLoadWorker(o.pin, LOAD_CORE)
  await load.ready
  const upstream = launch('upstream', process.execPath, [join(ROOT, 'bench', 'upstream.js')], { core: LOAD_CORE, pin: o.pin })
  const upPort = (await waitForLine(upstream, /listening (\d+)/))[1]
  const ctx = { tmp, pin: o.pin, serveDirect: o.serveDirect, proxyCore: PROXY_CORE, upstream, upstreamUrl: `http://127.0.0.1:${upPort}` }
  const entries = await startContenders(o, ctx, started)
  if (o.memory) await idleMemory(entries)
  const measureSafely = measurer({ tool: o.tool, tmp, load, loadCore: LOAD_CORE, pin: o.pin })

  const results = await race(o, entries, measureSafely)
  const finished = new Date()
  printReport(o, entries, results)
  saveResults({ started, finished, machine: m, o, pinNote, entries, results })

  await stopAll()
  rmSync(tmp, { recursive: true, force: true })
  const failed = entries.filter((e) => e.error !== null && !e.skipped)
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
