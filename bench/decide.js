/**
 * Microbenchmark of the pure routing decision: `stickinessKey` + `decide` per
 * request on a table built once by `compile` (as the data plane does: compile
 * on change, decide per request). Goal: ≤ 1 µs per decision. The last case
 * adds the host lookup of a 60-app router (`matchHost`, requests spread over
 * the 60 hosts, a quarter of them through a `*.` wildcard) to the same
 * decisions: goal ≤ 1 µs for lookup plus decision. (Each app's users cohort
 * has 1,000 users there: 60 × 100,000 ids would measure cache misses of a
 * 6-million-entry working set rather than the lookup.)
 *
 *   npm run bench:decide            (node --import tsx bench/decide.js)
 *   node --import tsx bench/decide.js --json
 *
 * Each case decides over 4,096 prepared requests with different keys, so the
 * hash and the Set lookups see varied input; the time is the median of
 * several batches after a warm-up.
 */
import { compile, compileHosts, decide, matchHost, stickinessKey } from '../src/routing/index.ts'

const BATCH = 1_000_000
const BATCHES = 7
const N_FACTS = 4096

const options = { stickiness: { header: 'x-user-id', cookie: null }, overrides: { enabled: false, secret: null } }

function state(canary, cohorts) {
  return {
    version: 1,
    live: 'blue',
    previous: null,
    canary,
    cohorts,
    rollout: null,
    updatedAt: '2026-01-01T00:00:00.000Z',
    lastFlipAt: null,
  }
}

function users(n) {
  const a = new Array(n)
  for (let i = 0; i < n; i++) a[i] = `user-${i}`
  return a
}

const APPS = 60
const hostOf = (i) => (i % 4 === 3 ? `eu.app-${i % APPS}.example.com` : `app-${i % APPS}.example.com`)

/** Request headers as node:http gives them, for user `key` (every 4th one is in the users cohort). */
function facts(withKey) {
  const out = new Array(N_FACTS)
  for (let i = 0; i < N_FACTS; i++) {
    const headers = {
      host: hostOf(i),
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) bench',
      accept: '*/*',
      'accept-encoding': 'gzip, deflate, br',
    }
    if (withKey) headers['x-user-id'] = i % 4 === 0 ? `user-${i * 13}` : `visitor-${i * 7919}`
    if (i % 16 === 0) headers['x-beta'] = 'yes'
    out[i] = headers
  }
  return out
}

const CASES = [
  { name: 'live only (no key read)', state: state(0, []), withKey: false },
  { name: 'canary 10% with a key', state: state(10, []), withKey: true },
  {
    name: 'canary 10% + 3 cohorts (header, 100,000 users, 5%)',
    state: state(10, [
      { name: 'beta-testers', color: 'idle', match: { headers: { 'X-Beta': 'yes' } } },
      { name: 'staff', color: 'idle', match: { users: users(100_000) } },
      { name: 'early-birds', color: 'idle', match: { percent: 5 } },
    ]),
    withKey: true,
  },
  { name: `${APPS} apps: host lookup + live only`, state: state(0, []), withKey: false, apps: APPS },
  { name: `${APPS} apps: host lookup + canary 10% with a key`, state: state(10, []), withKey: true, apps: APPS },
  {
    name: `${APPS} apps: host lookup + canary 10% + 3 cohorts (1,000 users each)`,
    state: state(10, [
      { name: 'beta-testers', color: 'idle', match: { headers: { 'X-Beta': 'yes' } } },
      { name: 'staff', color: 'idle', match: { users: users(1_000) } },
      { name: 'early-birds', color: 'idle', match: { percent: 5 } },
    ]),
    withKey: true,
    apps: APPS,
  },
]

/** The 60-app case: a host table over one compiled table per app. */
function hostTable(c) {
  const entries = []
  for (let i = 0; i < c.apps; i++) {
    const table = compile({ ...c.state, version: i + 1 }, options)
    entries.push([table, [`app-${i}.example.com`, `*.app-${i}.example.com`]])
  }
  return compileHosts(entries, null)
}

/** Host lookup, then what runBatch does, on the app's table. */
function runHostBatch(hosts, all, n) {
  let idle = 0
  const mask = N_FACTS - 1
  for (let i = 0; i < n; i++) {
    const headers = all[i & mask]
    const table = matchHost(hosts, headers.host)
    const key = table.needsKey ? stickinessKey(table, headers, null) : undefined
    const d = decide(table, { preview: false, headers, cookies: null, key })
    if (d.color !== table.live) idle++
  }
  return idle
}

/** What the data plane does per request: read the key only when a rule needs it, then decide. */
function runBatch(table, all, n) {
  let idle = 0
  const mask = N_FACTS - 1
  for (let i = 0; i < n; i++) {
    const headers = all[i & mask]
    const key = table.needsKey ? stickinessKey(table, headers, null) : undefined
    const d = decide(table, { preview: false, headers, cookies: null, key })
    if (d.color !== table.live) idle++
  }
  return idle
}

function measureCase(c) {
  let t = process.hrtime.bigint()
  const table = c.apps === undefined ? compile(c.state, options) : hostTable(c)
  const compileMs = Number(process.hrtime.bigint() - t) / 1e6
  const all = facts(c.withKey)
  const run = c.apps === undefined ? runBatch : runHostBatch
  run(table, all, BATCH) // warm-up: let the JIT settle
  const ns = []
  let idle = 0
  for (let b = 0; b < BATCHES; b++) {
    t = process.hrtime.bigint()
    idle = run(table, all, BATCH)
    ns.push(Number(process.hrtime.bigint() - t) / BATCH)
  }
  ns.sort((a, b) => a - b)
  return { name: c.name, compileMs, nsPerDecision: ns[BATCHES >> 1], bestNs: ns[0], idleShare: idle / BATCH }
}

const results = CASES.map(measureCase)
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ node: process.version, batch: BATCH, batches: BATCHES, results }, null, 2))
} else {
  console.log(
    `routing decision (stickinessKey + decide), median of ${BATCHES} × ${BATCH.toLocaleString('en-US')} decisions, Node ${process.version}\n`,
  )
  const rows = results.map((r) => [
    r.name,
    r.nsPerDecision.toFixed(1),
    r.bestNs.toFixed(1),
    (1e9 / r.nsPerDecision / 1e6).toFixed(1),
    `${(r.idleShare * 100).toFixed(1)}%`,
    r.compileMs.toFixed(2),
    r.nsPerDecision <= 1000 ? 'met' : 'MISSED',
  ])
  const header = ['case', 'ns/decision', 'best ns', 'M decisions/s', 'to idle', 'compile ms', 'goal ≤ 1 µs']
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')
  console.log([line(header), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n'))
  console.log('\n(numbers are noisy when other work runs on the machine; compile runs once per state change)')
}
