/** One measured run of one contender: autocannon (in the load worker) or wrk, with CPU accounting. */
import { BENCH_HEADERS } from './contenders.js'
import { cpuSeconds } from './procs.js'
import { runWrk, wrkScript } from './wrk.js'

/** The headers of a scenario's requests: Host and x-user-id (every scenario), content-type (with a body). */
function requestsOf(scenario) {
  const headers = { ...BENCH_HEADERS }
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

/** Whether contender entry `e` started and its process (if any) still runs. */
export function alive(e) {
  return e.error === null && (e.proc === undefined || e.proc.exited === null)
}

/**
 * Measures contenders with `tool` (default) through the load worker `load`
 * or wrk on `loadCore`; wrk scripts go to `tmp`.
 */
export function measurer({ tool, tmp, load, loadCore, pin }) {
  async function measure(e, scenario, runOpts, using = tool) {
    if (using === 'wrk') {
      scenario.wrkScript ??= wrkScript(tmp, { ...scenario, headers: requestsOf(scenario) })
      return runWrk({
        url: e.url,
        connections: runOpts.connections,
        duration: runOpts.duration,
        script: scenario.wrkScript,
        core: loadCore,
        pin,
      })
    }
    return load.run(cannonOpts(e.url, scenario, runOpts))
  }

  /**
   * One run with the contender's CPU time per request; null when it is not
   * alive, and a failure (exit, stall, error) marks the entry as failed.
   */
  return async function measureSafely(e, scenario, runOpts, using) {
    if (!alive(e)) return null
    try {
      const pid = e.proc?.pid
      const cpu0 = pid === undefined ? null : cpuSeconds(pid)
      const r = await measure(e, scenario, runOpts, using)
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
}
