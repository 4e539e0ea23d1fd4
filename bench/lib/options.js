/** The bench's command line: scenarios, options (validated once), the machine it runs on. */
import os from 'node:os'
import { parseArgs } from 'node:util'
import { CONTENDERS, nodeVersionOf, onNode } from './contenders.js'
import { canPin, onPath } from './procs.js'

export const SCENARIOS = [
  { id: 'small', title: 'small GET (13 B)', method: 'GET', path: '/small', bodyBytes: 0 },
  { id: '16k', title: '16 KiB response', method: 'GET', path: '/16k', bodyBytes: 0 },
  { id: 'post16k', title: '16 KiB POST', method: 'POST', path: '/upload', bodyBytes: 16 * 1024 },
  { id: 'post64k', title: '64 KiB POST', method: 'POST', path: '/upload', bodyBytes: 64 * 1024 },
]
const SCENARIO_IDS = SCENARIOS.map((s) => s.id).join(', ')

const byDefault = CONTENDERS.filter((c) => !c.optional).map((c) => c.id)
const optional = CONTENDERS.filter((c) => c.optional).map((c) => c.id)

export const HELP = `usage: node bench/run.js [options]
  --duration <s>        seconds per measured run (default 2.5; quick 1.5)
  --connections <n>     keep-alive connections (default 50)
  --rounds <n>          rounds; each contender runs once per round (default 3; quick 1)
  --scenario <list>     ${SCENARIO_IDS.replaceAll(' ', '')} or all (default all; quick small)
  --only <list>         contenders (default ${byDefault.join(',')})
  --with <list>         add optional contenders to the default set: ${optional.join(',')}
  --node <path,...>     also run every Node contender on these node binaries (twins <id>@node<major>),
                        in the same rounds; the upstream and the load generator stay on this Node
  --tool <t>            autocannon (default) or wrk (when installed)
  --quick               CI smoke: short, one round, one scenario, no half-load or memory runs
  --no-pin              do not pin processes to cores
  --paired              load all contenders at the same time each round, all on the proxy core (needs --tool wrk);
                        ratios per round, steady on a busy machine
  --no-paired-check     skip the paired check that follows the race when wrk is installed: switchyard-full and
                        the peers with goals, loaded at the same time, per scenario; the verdicts come from it
  --paired-rounds <n>   rounds of the paired check (default 7)
  --no-half             skip the fixed-rate run at half of the max load
  --no-memory           skip the 1,000-connection memory run
  --memory-connections <n>  connections of the memory run (default 1000)
  --markdown            also print the tables as Markdown
  --serve-direct        start switchyard via dist/cli/serve.js instead of bin/switchyard.js
  -h, --help`

/** The options of this run; prints help or a usage error and exits on bad input. */
export function options() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      connections: { type: 'string', default: '50' },
      rounds: { type: 'string' },
      scenario: { type: 'string' },
      only: { type: 'string' },
      with: { type: 'string' },
      node: { type: 'string' },
      tool: { type: 'string', default: 'autocannon' },
      quick: { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      'serve-direct': { type: 'boolean', default: false },
      'no-half': { type: 'boolean', default: false },
      paired: { type: 'boolean', default: false },
      'no-paired-check': { type: 'boolean', default: false },
      'paired-rounds': { type: 'string', default: '7' },
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
    paired: values.paired,
    pairedCheck: !values['no-paired-check'] && !quick && !values.paired,
    pairedRounds: Number(values['paired-rounds']),
    memory: !values['no-memory'] && !quick,
    memoryConnections: Number(values['memory-connections']),
    markdown: values.markdown,
    serveDirect: values['serve-direct'],
  }
  const scen = values.scenario ?? (quick ? 'small' : 'all')
  o.scenarios =
    scen === 'all'
      ? SCENARIOS
      : scen.split(',').map((id) => {
          const s = SCENARIOS.find((x) => x.id === id)
          if (s === undefined) fail(`unknown scenario "${id}" (${SCENARIO_IDS}, all)`)
          return s
        })
  const only = values.only?.split(',')
  const extra = values.with?.split(',') ?? []
  for (const id of [...(only ?? []), ...extra]) if (!CONTENDERS.some((c) => c.id === id)) fail(`unknown contender "${id}"`)
  const chosen = CONTENDERS.filter((c) => (only === undefined ? !c.optional : only.includes(c.id)) || extra.includes(c.id))
  o.nodes = (values.node?.split(',') ?? []).map((path) => {
    try {
      return { path, version: nodeVersionOf(path) }
    } catch (err) {
      fail(`--node: ${err.message}`)
    }
  })
  o.contenders = []
  // Each twin right after its original, so the tables show them side by side.
  for (const c of chosen) {
    o.contenders.push(c)
    if (c.node) for (const n of o.nodes) o.contenders.push(onNode(c, n.path, n.version))
  }
  const ids = o.contenders.map((c) => c.id)
  if (new Set(ids).size !== ids.length) fail(`--node: two binaries of the same Node major (${ids.join(',')})`)
  for (const k of ['duration', 'connections', 'rounds', 'memoryConnections', 'pairedRounds']) {
    if (!(o[k] > 0)) fail(`--${k} must be a positive number`)
  }
  if (o.tool !== 'autocannon' && o.tool !== 'wrk') fail('--tool is autocannon or wrk')
  // The paired check needs one wrk per contender at once, whatever tool the race uses.
  if (o.pairedCheck && !onPath('wrk')) {
    console.log('bench: wrk is not installed (apt-get install wrk): no paired check; verdicts come from the race')
    o.pairedCheck = false
  }
  if (o.tool === 'wrk' && !onPath('wrk')) {
    console.log('bench: wrk is not installed (apt-get install wrk); using autocannon')
    o.tool = 'autocannon'
  }
  // One autocannon worker cannot load several contenders at once without sharing its own CPU among them.
  if (o.paired && o.tool !== 'wrk') fail('--paired needs --tool wrk (and wrk installed): one wrk per contender runs at the same time')
  return o
}

function fail(msg) {
  console.error(`bench: ${msg}\n\n${HELP}`)
  process.exit(2)
}

/** What the run ran on, for the log line and the JSON. */
export function machine() {
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
