#!/usr/bin/env node
/**
 * CPU profile of switchyard under load: starts the upstream and switchyard
 * (canary 10% + 3 cohorts + metrics, or live only with --live) with
 * `node --cpu-prof`, loads it with autocannon for a few seconds, stops it
 * with SIGTERM (the profile is written on exit) and prints the hot spots by
 * self time, by function and by area (data plane, routing, node:http, undici,
 * metrics, GC …).
 *
 *   node bench/profile.js [--duration 10] [--scenario small|16k|post16k|post64k] [--live] [--connections 50] [--serve-direct]
 *   node bench/profile.js --contender bare-undici      (the same for a peer, to compare)
 *
 * The contenders are bench/run.js's (switchyard-full: 60 apps, the bench app by
 * wildcard Host), and the load carries the same headers (Host, x-user-id).
 *
 * The profile lands in bench/results/*.cpuprofile.json (git-ignored; open it in Chrome DevTools or
 * speedscope for the flame graph).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { BENCH_HEADERS, CONTENDERS, ROOT } from './lib/contenders.js'
import { SCENARIOS } from './lib/options.js'
import { canPin, cpuSeconds, installCleanup, launch, stop, stopAll, waitForLine } from './lib/procs.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    scenario: { type: 'string', default: 'small' },
    live: { type: 'boolean', default: false },
    contender: { type: 'string' },
    top: { type: 'string', default: '25' },
    'serve-direct': { type: 'boolean', default: false },
  },
})
const scenario = SCENARIOS.find((s) => s.id === values.scenario)
if (scenario === undefined) throw new Error(`--scenario is one of ${SCENARIOS.map((s) => s.id).join(', ')}`)

/** Which part of the stack a profile frame belongs to. */
function area(url, name) {
  if (url === '') {
    if (name === '(garbage collector)') return 'GC'
    if (name === '(idle)') return 'idle'
    if (name === '(program)') return 'program (native, outside JS)'
    if (name === 'writev' || name === 'writeBuffer' || name.startsWith('write')) return `native socket writes (${name})`
    return `native ${name}`
  }
  if (url.includes('/dist/dataplane/')) return 'switchyard dataplane'
  if (url.includes('/dist/routing/')) return 'switchyard routing'
  if (url.includes('/dist/observability/') || url.includes('/prom-client/')) return 'metrics (switchyard observability + prom-client)'
  if (url.includes('/dist/control/')) return 'switchyard control plane'
  if (url.includes('/dist/')) return 'switchyard other'
  if (url.includes('/undici/') || url.includes('/undici8/')) return 'undici'
  if (url.includes('/pino')) return 'pino'
  if (url.includes('internal/modules') || url.includes('/ajv/') || url.includes('internal/bootstrap'))
    return 'start-up (module loading, schema compiling)'
  if (url.startsWith('node:internal/streams') || url.startsWith('node:stream')) return 'node streams'
  if (url === 'node:events' || url.includes('task_queues') || url.includes('internal/timers') || url.includes('async_hooks'))
    return 'node events, timers, microtasks'
  if (url.startsWith('node:_http') || url.startsWith('node:http') || url.includes('internal/http')) return 'node:http'
  if (url.startsWith('wasm://')) return 'llhttp (wasm, undici parser)'
  if (url.startsWith('node:net') || url.includes('internal/net') || url.includes('stream_base')) return 'node:net'
  if (url.startsWith('node:')) return 'node other'
  return 'other'
}

/** Sample counts per profile node inside [fromUs, toUs] (CLOCK_MONOTONIC µs, as process.hrtime). */
function hitsInWindow(prof, fromUs, toUs) {
  const hits = new Map()
  let t = prof.startTime
  let n = 0
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i]
    if (t < fromUs || t > toUs) continue
    hits.set(prof.samples[i], (hits.get(prof.samples[i]) ?? 0) + 1)
    n++
  }
  return { hits, n }
}

function summarize(file, top, window) {
  const prof = JSON.parse(readFileSync(file, 'utf8'))
  let { hits, n: total } = hitsInWindow(prof, window.fromUs, window.toUs)
  if (total === 0) {
    // Clocks did not line up: fall back to the whole run, start-up included.
    console.log('note: no samples in the load window; counting the whole profile (start-up included)')
    hits = new Map(prof.nodes.map((x) => [x.id, x.hitCount]))
    total = prof.samples.length
  }
  const usPerSample = (window.toUs - window.fromUs) / Math.max(1, total)
  const byFn = new Map()
  const byArea = new Map()
  let busy = 0
  for (const n of prof.nodes) {
    n.hitCount = hits.get(n.id) ?? 0
    if (n.hitCount === 0) continue
    const { functionName, url, lineNumber } = n.callFrame
    const name = functionName || '(anonymous)'
    const a = area(url, name)
    if (a !== 'idle') busy += n.hitCount
    byArea.set(a, (byArea.get(a) ?? 0) + n.hitCount)
    const key = `${name}  ${url.replace(`file://${ROOT}`, '').replace(/^.*node_modules\//, '')}:${lineNumber + 1}`
    byFn.set(key, (byFn.get(key) ?? 0) + n.hitCount)
  }
  const pct = (h) => `${((h / busy) * 100).toFixed(1).padStart(5)}%`
  console.log(
    `\n${total} samples in the measured window (~${usPerSample.toFixed(0)} µs each), ${((busy / total) * 100).toFixed(0)}% busy; shares of busy (non-idle) time`,
  )
  console.log('\nby area (self time)')
  let small = 0
  for (const [a, h] of [...byArea].filter(([a]) => a !== 'idle').sort((x, y) => y[1] - x[1])) {
    if (h / busy < 0.005) small += h
    else console.log(`  ${pct(h)}  ${a}`)
  }
  if (small > 0) console.log(`  ${pct(small)}  (areas under 0.5% each)`)
  // Inclusive time of the contender's own functions (self + callees), to see
  // what each step of the hot path costs with the node/undici work it triggers.
  const byId = new Map(prof.nodes.map((x) => [x.id, x]))
  const incl = new Map()
  const inclusive = (node) => {
    if (node.total !== undefined) return node.total
    let t = node.hitCount
    for (const c of node.children ?? []) t += inclusive(byId.get(c))
    node.total = t
    return t
  }
  const seen = new Set()
  const walk = (node, stack) => {
    const { functionName, url, lineNumber } = node.callFrame
    const key = `${functionName || '(anonymous)'}  ${url.replace(`file://${ROOT}`, '')}:${lineNumber + 1}`
    // Count a function once per stack so recursion does not double it.
    const own = url.includes('/dist/') || url.includes('/bench/')
    if (own && !stack.has(key)) incl.set(key, (incl.get(key) ?? 0) + inclusive(node))
    const next = own ? new Set(stack).add(key) : stack
    for (const c of node.children ?? []) {
      if (!seen.has(c)) {
        seen.add(c)
        walk(byId.get(c), next)
      }
    }
  }
  walk(prof.nodes[0], new Set())
  console.log("\nthe contender's own functions (inclusive time: self + what they call)")
  for (const [k, h] of [...incl].sort((x, y) => y[1] - x[1]).slice(0, 15)) console.log(`  ${pct(h)}  ${k}`)

  console.log(`\ntop ${top} functions (self time)`)
  for (const [k, h] of [...byFn]
    .filter(([k]) => !k.startsWith('(idle)'))
    .sort((x, y) => y[1] - x[1])
    .slice(0, top))
    console.log(`  ${pct(h)}  ${k}`)
}

async function main() {
  installCleanup()
  const tmp = mkdtempSync(join(os.tmpdir(), 'switchyard-prof-'))
  const profDir = join(tmp, 'prof')
  const pin = canPin && os.availableParallelism() >= 2
  const upstream = launch('upstream', process.execPath, [join(ROOT, 'bench', 'upstream.js')], { core: 0, pin })
  const port = (await waitForLine(upstream, /listening (\d+)/))[1]
  const ctx = {
    tmp,
    pin,
    serveDirect: values['serve-direct'],
    proxyCore: 1,
    upstream,
    upstreamUrl: `http://127.0.0.1:${port}`,
    nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
  }
  const id = values.contender ?? (values.live ? 'switchyard' : 'switchyard-full')
  const contender = CONTENDERS.find((c) => c.id === id)
  if (contender === undefined || contender.node !== true)
    throw new Error(
      `--contender is a Node contender: ${CONTENDERS.filter((c) => c.node === true)
        .map((c) => c.id)
        .join(', ')}`,
    )
  const sy = await contender.start(ctx)
  console.log(
    `profiling ${contender.label} (pid ${sy.proc.pid}) under ${values.connections} connections, ${values.scenario}, ${values.duration}s`,
  )
  const load = launch(
    'load',
    process.execPath,
    [
      join(ROOT, 'node_modules', 'autocannon', 'autocannon.js'),
      '-j',
      '-c',
      values.connections,
      '-d',
      values.duration,
      '-m',
      scenario.method,
      ...Object.entries(BENCH_HEADERS).flatMap(([k, v]) => ['-H', `${k}=${v}`]),
      ...(scenario.bodyBytes > 0 ? ['-H', 'content-type=application/octet-stream', '-b', 'x'.repeat(scenario.bodyBytes)] : []),
      `${sy.url}${scenario.path}`,
    ],
    { core: 0, pin },
  )
  // Only samples taken while the load runs count, after a warm-up second or two.
  const nowUs = () => Number(process.hrtime.bigint() / 1000n)
  const fromUs = nowUs() + Math.min(2, Number(values.duration) / 4) * 1e6
  const cpu0 = cpuSeconds(sy.proc.pid)
  await load.closedPromise
  const toUs = nowUs()
  const cpu = cpuSeconds(sy.proc.pid) - cpu0
  try {
    const r = JSON.parse(load.out)
    console.log(
      `load: ${Math.round(r.requests.total / r.duration)} req/s, p99 ${r.latency.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}, CPU ${((cpu * 1e6) / r.requests.total).toFixed(1)} µs/request (whole run, warm-up included)`,
    )
  } catch {
    console.log(`load: ${load.err.slice(-300)}`)
  }
  const exit = await stop(sy.proc, 10_000)
  await stopAll()
  const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'))
  if (files.length === 0) throw new Error(`no profile written (switchyard exit ${JSON.stringify(exit)})`)
  const outDir = join(ROOT, 'bench', 'results')
  mkdirSync(outDir, { recursive: true })
  const out = join(outDir, `${id}-${values.scenario}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile.json`)
  copyFileSync(join(profDir, files[0]), out)
  console.log(`profile: ${out}`)
  summarize(out, Number(values.top), { fromUs, toUs })
  rmSync(tmp, { recursive: true, force: true })
}

main().catch(async (err) => {
  console.error(`profile: ${err.stack ?? err}`)
  await stopAll()
  process.exit(1)
})
