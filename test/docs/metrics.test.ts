import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLEAN_ENV, baseConfig, startRouterProcess, writeConfig } from '../e2e/router-process.js'
import { readDocs } from './docs.js'

/**
 * Every `switchyard_*` metric the docs name exists in a real router's
 * /metrics (`npm run build` first: this starts bin/switchyard.js), or is
 * listed below as pending. A metric counts as existing when /metrics has
 * its `# TYPE` line (prom-client writes it for every registered metric,
 * with or without samples), so no traffic is needed.
 */

/**
 * Metrics the docs name that switchyard does not export yet, each with what
 * brings it. The test fails on an entry that is exported now, so the list
 * only shrinks: remove an entry when its feature lands.
 */
const PENDING: Record<string, string> = {
}


/** `switchyard_*` names in a text, with where they were seen. */
export function metricMentions(text: string): Set<string> {
  return new Set([...text.matchAll(/\bswitchyard_[a-z0-9_]*[a-z0-9]/g)].map((m) => m[0]))
}

/** Metric names in Prometheus text: the `# TYPE` lines and the samples. */
export function exportedNames(text: string): Set<string> {
  const out = new Set<string>()
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) /.exec(line) ?? /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line)
    if (m !== null) out.add(m[1])
  }
  return out
}

async function scrape(extra: Record<string, unknown> = {}): Promise<Set<string>> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-docs-metrics-'))
  try {
    // Nothing is proxied: the targets are never dialled.
    const config = baseConfig(dir, ['http://127.0.0.1:9'], ['http://127.0.0.1:9'], extra)
    const router = await startRouterProcess(writeConfig(config, dir), CLEAN_ENV)
    try {
      const res = await fetch(`${router.adminUrl}/metrics`)
      const text = await res.text()
      if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${text}`)
      return exportedNames(text)
    } finally {
      await router.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const docs = readDocs()
const mentioned = new Map<string, string[]>()
for (const doc of docs) {
  for (const name of metricMentions(doc.text)) mentioned.set(name, [...(mentioned.get(name) ?? []), doc.path])
}

let exported = new Set<string>()
t.before(async () => {
  // A single process, and a router with two workers (the worker metrics exist only then).
  const [one, two] = await Promise.all([scrape(), scrape({ workers: 2 })])
  exported = new Set([...one, ...two])
})

t.test('the readers work', async (t) => {
  t.same([...metricMentions('`switchyard_requests_total{app}`, SWITCHYARD_ADMIN_TOKEN, the `switchyard_` prefix, switchyard-id')],
    ['switchyard_requests_total'])
  t.same([...exportedNames('# HELP a_b x\n# TYPE a_b counter\na_b{x="1"} 2\nc_total 3\n')], ['a_b', 'c_total'])
  t.ok(exported.has('switchyard_requests_total') && exported.has('switchyard_request_duration_seconds'), 'the router exports its metrics')
  t.ok(mentioned.size >= 10, `${mentioned.size} metric names read from the docs`)
})

t.test('every metric the docs name is in /metrics, or pending with a reason', async (t) => {
  for (const [name, where] of mentioned) {
    if (name in PENDING) continue
    t.ok(exported.has(name), `${name} (named in ${where.join(', ')}) is exported`)
  }
})

t.test('a pending metric is not exported yet and still named in the docs', async (t) => {
  for (const [name, why] of Object.entries(PENDING)) {
    t.notOk(exported.has(name), `${name} is pending (${why}); exported now: remove it from PENDING in test/docs/metrics.test.ts`)
    t.ok(mentioned.has(name), `${name} is pending; no doc names it any more: remove it from PENDING`)
  }
})
