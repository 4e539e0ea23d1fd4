/** The race's tables (plain text to the console, and Markdown) and its JSON file. */
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { ROOT } from './contenders.js'
import { fmt, markdownTable, median, table } from './stats.js'

/**
 * Issue 14's goals: switchyard-full's req/s over each peer's, per scenario;
 * a scenario a peer does not list has no goal against it (ratio shown only).
 * The 16 KiB response is held to the POSTs' 1.1, as the "16 KiB and
 * 64 KiB POST stay ≥ 1.1" was first measured on it.
 */
const GOALS = {
  'bare-undici': { small: 1.0, '16k': 1.1, post16k: 1.1, post64k: 1.1 },
  'http-proxy': { small: 1.5 },
  'fastify-proxy': { small: 1.7 },
  nginx: {},
}
const SWITCHYARDS = ['switchyard-full', 'switchyard']
/** Peers among themselves, to compare with the first measurement and the undici 8 references. */
const PEER_PAIRS = [
  ['bare-undici', 'http-proxy'],
  ['bare-undici', 'fastify-proxy'],
  ['nginx', 'bare-undici'],
  ['bare-undici8', 'bare-undici'],
  ['bare-undici-v8api', 'bare-undici'],
  ['bare-undici8', 'bare-undici-v8api'],
]

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

/** The goal text of a peer over the run's scenarios: "small ≥ 1.00 · 16k, post64k ≥ 1.10", or "–". */
function goalText(peer, scenarios) {
  const byGoal = new Map()
  for (const sc of scenarios) {
    const g = GOALS[peer][sc.id]
    if (g !== undefined) byGoal.set(g, [...(byGoal.get(g) ?? []), sc.id])
  }
  if (byGoal.size === 0) return peer === 'nginx' ? '(reference)' : '–'
  return [...byGoal].map(([g, ids]) => `${ids.join(', ')} ≥ ${g.toFixed(2)}`).join(' · ')
}

/** The contenders with a median in at least one scenario (not skipped, not failed from the start). */
function measured(results) {
  const ids = new Set()
  for (const sc of Object.values(results.scenarios)) for (const id of Object.keys(sc.summary)) ids.add(id)
  return ids
}

/** req/s ratio a / b, or by CPU (b's CPU µs per request over a's: what a core delivers); null when either is missing. */
function ratioOf(s, a, b, byCpu) {
  if (byCpu) {
    const x = s[a]?.cpuUsPerRequest
    const y = s[b]?.cpuUsPerRequest
    return x != null && y != null && x > 0 ? y / x : null
  }
  const pa = s[a]?.pairedRequestsPerSec
  const pb = s[b]?.pairedRequestsPerSec
  if (pa !== undefined && pb !== undefined && pa.length === pb.length && pa.length > 0) {
    // --paired: the median of the per-round ratios (both ran in the same seconds)
    return median(pa.map((x, i) => (pb[i] > 0 ? x / pb[i] : 0)))
  }
  const x = s[a]?.requestsPerSec
  const y = s[b]?.requestsPerSec
  return x !== undefined && y !== undefined && y > 0 ? x / y : null
}

/**
 * Rows "switchyard / peer" for every peer in GOALS: by req/s or by CPU;
 * each ratio is also stored in `results.ratios`, and each goal of the
 * full switchyard with its verdict in `results.goals`.
 */
function switchyardRatioRows(o, entries, results, byCpu, only = SWITCHYARDS, peers = Object.keys(GOALS)) {
  const rows = []
  const suffix = byCpu ? '/cpu' : ''
  const ran = measured(results)
  for (const sy of only) {
    if (!entries.some((e) => e.id === sy)) continue
    for (const peer of peers) {
      // A goal row stays when either side has no numbers (the goal shows as unmeasured); other rows need both.
      const goalRow = sy === 'switchyard-full' && Object.keys(GOALS[peer]).length > 0
      if (!goalRow && !(ran.has(sy) && ran.has(peer))) continue
      const row = [byCpu ? `${sy} / ${peer} (by CPU)` : `${sy} / ${peer}`]
      const verdicts = []
      for (const scenario of o.scenarios) {
        const ratio = ratioOf(results.scenarios[scenario.id].summary, sy, peer, byCpu)
        results.ratios[`${sy}/${peer}/${scenario.id}${suffix}`] = ratio
        row.push(ratio === null ? '–' : ratio.toFixed(2))
        const goal = GOALS[peer][scenario.id]
        if (sy !== 'switchyard-full' || goal === undefined || ratio === null) continue
        verdicts.push(`${scenario.id} ${goalMark(ratio >= goal)}`)
        results.goals.push({ peer, scenario: scenario.id, byCpu, goal, ratio, met: ratio >= goal })
      }
      row.push(sy === 'switchyard-full' ? goalText(peer, o.scenarios) : '', verdicts.join(' · '))
      rows.push(row)
    }
  }
  return rows
}

/** Rows "a / b" for reference pairs that ran: the peers among themselves and each `--node` twin over its original. */
function referenceRatioRows(o, entries, results, byCpu) {
  const ran = measured(results)
  // by CPU: the twins only (the peers' CPU ratios add little to their req/s ones)
  const pairs = byCpu ? [] : PEER_PAIRS.filter(([a, b]) => ran.has(a) && ran.has(b))
  for (const e of entries) if (e.baseId !== undefined && ran.has(e.baseId)) pairs.push([e.id, e.baseId])
  return pairs.map(([a, b]) => {
    const row = [`${a} / ${b}${byCpu ? ' (by CPU)' : ''}`]
    for (const scenario of o.scenarios) {
      const ratio = ratioOf(results.scenarios[scenario.id].summary, a, b, byCpu)
      results.ratios[`${a}/${b}/${scenario.id}${byCpu ? '/cpu' : ''}`] = ratio
      row.push(ratio === null ? '–' : ratio.toFixed(2))
    }
    row.push('(reference)', '')
    return row
  })
}

/**
 * The paired check's ratios (median of per-round ratios) with the goals'
 * verdicts, stored in `results.pairedCheck.ratios` and `.goals`: the run's
 * verdicts (the race's stay in `results.goals`, marked as the race's).
 */
function pairedCheckSection(report, o, entries, results) {
  const check = results.pairedCheck
  check.ratios = {}
  check.goals = []
  const peers = check.contenders.filter((id) => id !== 'switchyard-full')
  const rows = [
    ...switchyardRatioRows(o, entries, check, false, ['switchyard-full'], peers),
    ...switchyardRatioRows(o, entries, check, true, ['switchyard-full'], peers),
  ]
  const header = ['ratio', ...o.scenarios.map((s) => s.id), 'goal (switchyard-full)', 'verdict']
  report.section(
    `\npaired check (${check.contenders.join(', ')} loaded at the same time, ${check.rounds} rounds × ${o.duration}s, wrk): median of per-round ratios — the run's verdicts`,
    `**Paired check** (${check.contenders.join(', ')} at the same time; median of per-round ratios; the run's verdicts)`,
    header,
    rows,
  )
}

function ratioSection(report, o, entries, results) {
  results.ratios = {}
  results.goals = []
  const rows = [
    ...switchyardRatioRows(o, entries, results, false),
    ...referenceRatioRows(o, entries, results, false),
    ...switchyardRatioRows(o, entries, results, true),
    ...referenceRatioRows(o, entries, results, true),
  ]
  const paired = results.pairedCheck !== undefined
  const header = [
    'ratio',
    ...o.scenarios.map((s) => s.id),
    'goal (switchyard-full)',
    paired ? 'verdict (race; see the paired check)' : 'verdict',
  ]
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
  ratioSection(report, o, entries, results)
  if (results.pairedCheck !== undefined) pairedCheckSection(report, o, entries, results)
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
