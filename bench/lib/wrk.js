/**
 * wrk as an alternative load generator (`--tool wrk`): a compiled tool that
 * costs less CPU than autocannon, which matters when the load generator and
 * the proxy share a 2-core machine. One thread, pinned like autocannon.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { launch } from './procs.js'

function luaString(s) {
  return JSON.stringify(s) // a JSON string of ASCII is a valid Lua string literal
}

/** Writes the Lua script of a scenario and returns its path. */
export function wrkScript(dir, scenario) {
  const lines = [`wrk.method = ${luaString(scenario.method)}`, `wrk.path = ${luaString(scenario.path)}`]
  // wrk adds `Host: <url's host>` unless wrk.headers["Host"] is set (its key is
  // case-sensitive): "host" would send two Host headers.
  for (const [k, v] of Object.entries(scenario.headers)) {
    lines.push(`wrk.headers[${luaString(k.toLowerCase() === 'host' ? 'Host' : k)}] = ${luaString(v)}`)
  }
  if (scenario.bodyBytes > 0) lines.push(`wrk.body = string.rep("x", ${scenario.bodyBytes})`)
  const file = join(dir, `wrk-${scenario.id}.lua`)
  writeFileSync(file, lines.join('\n') + '\n')
  return file
}

function toMs(value, unit) {
  const v = Number(value)
  if (unit === 'us') return v / 1000
  if (unit === 's') return v * 1000
  if (unit === 'm') return v * 60_000
  return v
}

/** Parses wrk's text report (run with --latency). */
export function parseWrk(text) {
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text)
    return m === null ? null : toMs(m[1], m[2])
  }
  const num = (re) => {
    const m = re.exec(text)
    return m === null ? 0 : Number(m[1])
  }
  const total = num(/(\d+) requests in/)
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
  const errors = sock === null ? 0 : Number(sock[1]) + Number(sock[2]) + Number(sock[3])
  return {
    requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    requestsTotal: total,
    latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99), max: null, mean: null },
    errors,
    timeouts: sock === null ? 0 : Number(sock[4]),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
  }
}

/** Runs wrk once and resolves with the parsed report. */
export async function runWrk({ url, connections, duration, script, core, pin }) {
  const args = ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(duration))}s`, '--latency', '--timeout', '10s', '-s', script, url]
  const proc = launch('wrk', 'wrk', args, { core, pin })
  await proc.closedPromise
  const exit = proc.exited
  if (exit.code !== 0) throw new Error(`wrk exited ${JSON.stringify(exit)}: ${proc.err.slice(-400)}`)
  return parseWrk(proc.out)
}
