#!/usr/bin/env node
/**
 * Where switchyard's memory goes (docs/performance.md, "Memory").
 *
 *   node bench/memory.js imports          what each dependency costs at start: RSS, heap and
 *                                         time after importing it, each in a fresh process
 *   node bench/memory.js router [--load]  a started router (`switchyard serve`, file store, one
 *                                         app, metrics on): idle RSS, then with --load the peak
 *                                         under 50 and 1,000 keep-alive connections
 *
 * Options of `router`: --connections <list> (the loads of --load, default 50,1000), --node-flags "<flags>" (e.g. "--max-semi-space-size=16"),
 * --env KEY=VALUE (repeatable; e.g. SWITCHYARD_NODE_FLAGS=), --runs <n> (default 1).
 * RSS is VmRSS from /proc; "node binary" is the part of it that is pages of
 * the node executable (code and read-only data, shared and clean), "anon" the
 * process's own memory (JS heap, malloc, buffers).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { ROOT, switchyardConfig } from './lib/contenders.js'
import { canPin, freePort, installCleanup, launch, stopAll, waitForHttp, waitForLine } from './lib/procs.js'

const MiB = 1024 * 1024

/** VmRSS, VmHWM, RssAnon and the node executable's resident pages of a process, in MiB. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024
  let binary = 0
  try {
    const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8')
    let isNode = false
    for (const line of smaps.split('\n')) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) isNode = line.endsWith('/node') || line.includes('/bin/node')
      else if (isNode && line.startsWith('Rss:')) binary += Number(line.split(/\s+/)[1]) / 1024
    }
  } catch {
    binary = NaN
  }
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), binary }
}

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–')

/** The dependencies in the order a router loads them, and the router's own modules. */
const IMPORTS = [
  ['(node itself)', null],
  ['yaml', 'yaml'],
  ['@sinclair/typebox', '@sinclair/typebox'],
  ['@sinclair/typebox/value', '@sinclair/typebox/value'],
  ['@sinclair/typebox/compiler', '@sinclair/typebox/compiler'],
  ['pino', 'pino'],
  ['prom-client', 'prom-client'],
  ['undici (index)', 'undici'],
  ['undici Pool + Agent only', ['undici/lib/dispatcher/pool.js', 'undici/lib/dispatcher/agent.js']],
  ['fastify', 'fastify'],
  ['fastify + ready (empty app)', 'fastify', 'ready'],
  ['@fastify/swagger', '@fastify/swagger'],
  ['ioredis', 'ioredis'],
  ['dist/config (config load)', './dist/config/index.js'],
  ['dist/observability/metrics', './dist/observability/metrics.js'],
  ['dist/dataplane', './dist/dataplane/index.js'],
  ['dist/control/admin', './dist/control/admin/index.js'],
  ['dist/main.js (everything serve imports)', './dist/main.js'],
]

/** One fresh node: imports `spec` (a list or one), optionally builds an empty fastify app, prints its memory. */
const CHILD = `
const t0 = performance.now()
const specs = JSON.parse(process.argv[1])
const mods = []
for (const s of specs) mods.push(await import(s.startsWith('./') ? new URL(s, process.argv[2]).href : s))
if (process.argv[3] === 'ready') { const app = mods[0].default(); await app.ready(); await app.close() }
const ms = performance.now() - t0
const s = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8')
const kb = (k) => Number(new RegExp('^' + k + ':\\\\s+(\\\\d+)', 'm').exec(s)[1]) / 1024
const m = process.memoryUsage()
console.log(JSON.stringify({ ms, rss: kb('VmRSS'), hwm: kb('VmHWM'), heapUsed: m.heapUsed / ${MiB}, heapTotal: m.heapTotal / ${MiB} }))
`

function importCost(spec, mode) {
  return new Promise((resolve, reject) => {
    const specs = spec === null ? [] : Array.isArray(spec) ? spec : [spec]
    const c = spawn(process.execPath, ['--input-type=module', '-e', CHILD, JSON.stringify(specs), `file://${ROOT}`, mode ?? ''], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    c.stdout.on('data', (d) => (out += d))
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`import ${spec}: exit ${code}`))))
  })
}

async function imports(runs) {
  console.log(`import cost, each in a fresh node ${process.version} (median of ${runs}); + is over node itself`)
  console.log(
    `${'module'.padEnd(42)} ${'RSS MiB'.padStart(8)} ${'+RSS'.padStart(6)} ${'heap used'.padStart(9)} ${'+heap'.padStart(6)} ${'ms'.padStart(5)}`,
  )
  let base = null
  for (const [name, spec, mode] of IMPORTS) {
    const rs = []
    for (let i = 0; i < runs; i++) rs.push(await importCost(spec, mode))
    const med = (k) => rs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rs.length / 2)]
    const r = { rss: med('rss'), heapUsed: med('heapUsed'), ms: med('ms') }
    base ??= r
    const plus = (k) => (r === base ? '' : `+${f1(r[k] - base[k])}`)
    console.log(
      `${name.padEnd(42)} ${f1(r.rss).padStart(8)} ${plus('rss').padStart(6)} ${f1(r.heapUsed).padStart(9)} ${plus('heapUsed').padStart(6)} ${r.ms.toFixed(0).padStart(5)}`,
    )
  }
}

/** Autocannon from this process; the router runs pinned on core 1, this on core 0. */
function load(url, connections, duration) {
  return new Promise((resolve, reject) => {
    autocannon({ url: `${url}/small`, connections, duration, headers: { 'x-user-id': 'visitor-4242' } }, (err, r) =>
      err ? reject(err) : resolve(r),
    )
  })
}

async function router({ withLoad, nodeFlags, env, loads }) {
  const tmp = mkdtempSync(join(os.tmpdir(), 'switchyard-memory-'))
  try {
    const upstream = launch('upstream', process.execPath, [join(ROOT, 'bench', 'upstream.js')], { core: 0 })
    const upPort = (await waitForLine(upstream, /listening (\d+)/))[1]
    const port = await freePort()
    const adminPort = await freePort()
    // The race's one-app `switchyard` contender.
    const config = switchyardConfig({ upstreamUrl: `http://127.0.0.1:${upPort}` }, false, tmp, port, adminPort)
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(config))
    const started = performance.now()
    const args = [...nodeFlags, join(ROOT, 'bin', 'switchyard.js'), 'serve', '--config', join(tmp, 'config.json')]
    const proc = launch('switchyard', process.execPath, args, { core: 1, cwd: tmp, env })
    const url = `http://127.0.0.1:${port}`
    await waitForHttp(`${url}/small`, { proc, timeoutMs: 20_000 })
    const readyMs = performance.now() - started
    const pid = proc.pid
    await new Promise((r) => setTimeout(r, 2000))
    const idle = memoryOf(pid)
    const row = (what, m) =>
      console.log(
        `  ${what.padEnd(34)} RSS ${f1(m.rss).padStart(6)}  VmHWM ${f1(m.hwm).padStart(6)}  anon ${f1(m.anon).padStart(6)}  node binary ${f1(m.binary).padStart(5)}`,
      )
    // The router re-executes itself with its own flags (src/cli/node-flags.ts): read what it runs with.
    const running = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(1)
    const flags = running.slice(
      0,
      running.findIndex((a) => !a.startsWith('--')),
    )
    console.log(`router ready in ${readyMs.toFixed(0)} ms (pid ${pid}, node flags: ${flags.join(' ') || 'none'})`)
    row('idle (2 s after ready)', idle)
    const result = { readyMs, idle }
    if (withLoad) {
      for (const connections of loads) {
        const duration = connections >= 1000 ? 4 : 3
        let peak = 0
        const timer = setInterval(() => (peak = Math.max(peak, memoryOf(pid).rss)), 100)
        const r = await load(url, connections, duration)
        clearInterval(timer)
        const m = memoryOf(pid)
        row(`after ${connections} conns × ${duration} s`, m)
        console.log(
          `  ${''.padEnd(34)} sampled peak RSS ${f1(Math.max(peak, m.rss))}  ${Math.round(r.requests.average)} req/s, ${r.errors + r.timeouts} errors`,
        )
        result[`c${connections}`] = { ...m, sampledPeak: Math.max(peak, m.rss) }
      }
    }
    return result
  } finally {
    await stopAll()
    rmSync(tmp, { recursive: true, force: true })
  }
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      load: { type: 'boolean', default: false },
      'node-flags': { type: 'string', default: '' },
      env: { type: 'string', multiple: true, default: [] },
      runs: { type: 'string', default: '1' },
      connections: { type: 'string', default: '50,1000' },
    },
  })
  installCleanup()
  const runs = Number(values.runs)
  if (positionals[0] === 'imports') return imports(Math.max(1, runs))
  if (positionals[0] !== 'router') {
    console.error(
      'usage: node bench/memory.js imports | router [--load] [--connections 50,1000] [--node-flags "<flags>"] [--env K=V] [--runs n]',
    )
    process.exitCode = 2
    return
  }
  if (!canPin) console.log('note: not pinned (taskset missing): the load and the router share cores')
  const env = Object.fromEntries(values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
  const nodeFlags = values['node-flags'].split(' ').filter(Boolean)
  const loads = values.connections.split(',').map(Number)
  if (!loads.every((n) => Number.isInteger(n) && n > 0)) {
    console.error(`--connections: a comma-separated list of positive integers, got "${values.connections}"`)
    process.exitCode = 2
    return
  }
  for (let i = 0; i < runs; i++) await router({ withLoad: values.load, nodeFlags, env, loads })
}

await main()
