/** The race's tables (plain text to the console, and Markdown) and its JSON file. */
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { ROOT } from './contenders.js'
import { fmt, markdownTable, table } from './stats.js'

/** The goals: switchyard's req/s over each peer's (nginx is a stretch). */
const GOALS = { 'bare-undici': 0.9, 'http-proxy': 1.3, 'fastify-proxy': 1.4, nginx: 0.5 }
const SWITCHYARDS = ['switchyard-full', 'switchyard']

function goalMark(ok) {
  return ok === null ? '' : ok ? 'met' : 'MISSED'
}

/**
 * A report printed line by line as it is built, and collected as Markdown
 * sections for `--markdown`.
 */
class Report {
  md = []
  print(s = '') {
    console.log(s)
  }
  section(title, mdTitle, header, rows) {
    this.print(title)
    this.print(table(header, rows))
    this.md.push(`${mdTitle}\n\n${markdownTable(header, rows)}`)
  }
}

function scenarioRows(entries, summary) {
  return entries.map((e) => {
    const x = summary[e.id]
    if (x === undefined) return [e.label, '–', '–', '–', '–', '–', e.skipped ? 'skipped' : `ERROR ${e.error ?? ''}`.slice(0, 60), '–']
    const spread = x.requestsPerSec > 0 ? ((x.maxRequestsPerSec - x.minRequestsPerSec) / x.requestsPerSec) * 100 : 0
    return [
      e.label,
      fmt(x.requestsPerSec),
      fmt(x.p50Ms, 2),
      fmt(x.p99Ms, 2),
      fmt(x.errors),
      fmt(x.non2xx),
      `±${fmt(spread / 2, 0)}%`,
      fmt(x.cpuUsPerRequest, 1),
    ]
  })
}

/**
 * Rows "switchyard / peer" for every peer with a goal: by req/s (`field`
 * requestsPerSec, a / b) or by CPU (`field` cpuUsPerRequest, b / a: what a
 * core delivers); each ratio is also stored in `ratios`.
 */
function switchyardRatioRows(o, results, byCpu) {
  const rows = []
  for (const sy of SWITCHYARDS) {
    for (const peer of Object.keys(GOALS)) {
      const row = [byCpu ? `${sy} / ${peer} (by CPU)` : `${sy} / ${peer}`]
      const suffix = byCpu ? '/cpu' : ''
      for (const scenario of o.scenarios) {
        const s = results.scenarios[scenario.id].summary
        let ratio
        if (byCpu) {
          const a = s[sy]?.cpuUsPerRequest
          const b = s[peer]?.cpuUsPerRequest
          ratio = a != null && b != null && a > 0 ? b / a : null
        } else {
          const a = s[sy]?.requestsPerSec
          const b = s[peer]?.requestsPerSec
          ratio = a !== undefined && b !== undefined && b > 0 ? a / b : null
        }
        results.ratios[`${sy}/${peer}/${scenario.id}${suffix}`] = ratio
        row.push(ratio === null ? '–' : ratio.toFixed(2))
      }
      const r0 = results.ratios[`${sy}/${peer}/${o.scenarios[0].id}${suffix}`]
      row.push(`≥ ${GOALS[peer].toFixed(2)}${peer === 'nginx' ? ' (stretch)' : ''}`)
      row.push(sy === 'switchyard-full' ? goalMark(r0 === null ? null : r0 >= GOALS[peer]) : '')
      rows.push(row)
    }
  }
  return rows
}

/** The peers among themselves, to compare with the first measurement. */
function peerRatioRows(o, results) {
  const rows = []
  for (const [a, b] of [
    ['bare-undici', 'http-proxy'],
    ['bare-undici', 'fastify-proxy'],
    ['nginx', 'bare-undici'],
  ]) {
    const row = [`${a} / ${b}`]
    for (const scenario of o.scenarios) {
      const s = results.scenarios[scenario.id].summary
      const x = s[a]?.requestsPerSec
      const y = s[b]?.requestsPerSec
      row.push(x !== undefined && y !== undefined && y > 0 ? (x / y).toFixed(2) : '–')
    }
    row.push('(reference)', '')
    rows.push(row)
  }
  return rows
}

function ratioSection(report, o, results) {
  results.ratios = {}
  const rows = [...switchyardRatioRows(o, results, false), ...peerRatioRows(o, results), ...switchyardRatioRows(o, results, true)]
  const header = ['ratio', ...o.scenarios.map((s) => s.id), 'goal', `goal (${o.scenarios[0].id})`]
  report.section(
    `\nratios of medians: req/s, and (by CPU) the peer's CPU µs per request ÷ switchyard's`,
    `**Ratios** (medians; "by CPU" = peer's CPU µs per request ÷ switchyard's)`,
    header,
    rows,
  )
}

/** p99 added over direct at half of the max load; also stores `p99AddedMs` on each result. */
function halfLoadSection(report, entries, h) {
  const d = h.results.direct?.latencyMs
  const header = ['contender', 'achieved req/s', 'p50 ms', 'p99 ms', 'p99 added ms', 'goal ≤ 1 ms']
  const rows = Object.entries(h.results).map(([id, r]) => {
    const added = d !== undefined && id !== 'direct' ? r.latencyMs.p99 - d.p99 : null
    const label = entries.find((e) => e.id === id).label
    return [
      label,
      fmt(r.requestsPerSec),
      fmt(r.latencyMs.p50, 2),
      fmt(r.latencyMs.p99, 2),
      added === null ? '–' : fmt(added, 2),
      id.startsWith('switchyard') && added !== null ? goalMark(added <= 1) : '',
    ]
  })
  for (const [id, r] of Object.entries(h.results)) r.p99AddedMs = d !== undefined && id !== 'direct' ? r.latencyMs.p99 - d.p99 : null
  report.section(
    `\nhalf load: ${h.scenario} at ${fmt(h.rate)} req/s (autocannon overallRate, latency with µs resolution)`,
    `**Half load** (${h.scenario} at ${fmt(h.rate)} req/s, autocannon)`,
    header,
    rows,
  )
}

/** Issue 14's memory goals, in MiB: idle ≤ 90 MB, VmHWM (lifetime peak, start-up included) ≤ 120 MB at 1,000 connections. */
const MEMORY_GOALS_MIB = { idle: 90e6 / 2 ** 20, peak: 120e6 / 2 ** 20 }

function memorySection(report, entries, memory) {
  const header = [
    'process',
    'idle RSS MiB',
    'RSS before MiB',
    'peak RSS under load MiB',
    'VmHWM (life) MiB',
    'req/s',
    'errors',
    `idle ≤ ${fmt(MEMORY_GOALS_MIB.idle, 1)} MiB (90 MB)`,
    `VmHWM ≤ ${fmt(MEMORY_GOALS_MIB.peak, 1)} MiB (120 MB)`,
  ]
  const rows = Object.entries(memory.results).map(([id, x]) => {
    const judged = id.startsWith('switchyard')
    return [
      entries.find((e) => e.id === id).label,
      fmt(x.idleRssMiB, 1),
      fmt(x.beforeRssMiB, 1),
      fmt(x.sampledPeakRssMiB, 1),
      fmt(x.peakRssMiB, 1),
      fmt(x.run?.requestsPerSec),
      fmt((x.run?.errors ?? 0) + (x.run?.timeouts ?? 0)),
      judged ? goalMark(x.idleRssMiB == null ? null : x.idleRssMiB <= MEMORY_GOALS_MIB.idle) : '',
      judged ? goalMark(x.peakRssMiB == null ? null : x.peakRssMiB <= MEMORY_GOALS_MIB.peak) : '',
    ]
  })
  report.section(
    `\nmemory at ${memory.connections} keep-alive connections (autocannon, 4 s); idle: before any load`,
    `**Memory** (${memory.connections} keep-alive connections; idle: before any load)`,
    header,
    rows,
  )
}

/**
 * Prints every table of the run (adding `ratios`, and `p99AddedMs` to the
 * half-load results, to `results`) and the contenders that failed or skipped.
 */
export function printReport(o, entries, results) {
  const report = new Report()
  report.print(`\n=== results (${o.tool}; medians of ${o.rounds} round(s) × ${o.duration}s, ${o.connections} connections) ===`)
  for (const scenario of o.scenarios) {
    const header = ['contender', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'spread', 'CPU µs/req']
    const rows = scenarioRows(entries, results.scenarios[scenario.id].summary)
    report.section(`\n${scenario.title} — ${o.tool}`, `**${scenario.title}** (${o.tool})`, header, rows)
  }
  ratioSection(report, o, results)
  if (results.halfLoad !== undefined) halfLoadSection(report, entries, results.halfLoad)
  if (results.memory !== undefined) memorySection(report, entries, results.memory)
  if (o.markdown) console.log(`\n--- markdown ---\n\n${report.md.join('\n\n')}\n`)
  for (const e of entries.filter((x) => x.error !== null)) report.print(`${e.skipped ? 'skipped' : 'error'}: ${e.label}: ${e.error}`)
}

/** Writes the run as JSON to bench/results/<start time>.json and says where. */
export function saveResults({ started, finished, machine, o, pinNote, entries, results }) {
  const json = {
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    seconds: Math.round((finished - started) / 1000),
    machine: { ...machine, loadavgAtEnd: os.loadavg().map((x) => +x.toFixed(2)) },
    options: { ...o, scenarios: o.scenarios.map((s) => s.id), contenders: o.contenders.map((c) => c.id) },
    pinning: pinNote,
    contenders: entries.map((e) => ({
      id: e.id,
      label: e.label,
      about: e.about,
      url: e.url,
      pid: e.proc?.pid,
      info: e.info,
      error: e.error,
      skipped: e.skipped,
    })),
    ...results,
  }
  const dir = join(ROOT, 'bench', 'results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify(json, null, 2))
  console.log(`\nresults: ${file} (${json.seconds}s)`)
}
