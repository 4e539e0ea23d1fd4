import { performance } from 'node:perf_hooks'
import { Agent, request as undiciRequest, type Dispatcher } from 'undici'
import type { SmokeCheckConfig } from '../config/index.js'
import type { Color } from '../routing/index.js'
import type { SmokeCheckResult, SmokeGate, SmokeReport } from './types.js'

/** Bodies are read up to this many bytes for `bodyIncludes`. */
const MAX_BODY_BYTES = 1 << 20

export interface SmokeRunnerOptions {
  /** config `smoke.checks` (defaults applied) */
  checks: readonly SmokeCheckConfig[]
  /** config `upstreams`: each color's target base URLs */
  upstreams: Readonly<Record<Color, { targets: readonly string[] }>>
  /** injected for tests; default undici `request` */
  request?: typeof undiciRequest
  /** monotonic ms (not a `clock`: that is epoch ms), for the `ms` of each result; default performance.now */
  monotonic?: () => number
}

/** A smoke gate that owns an undici Agent; `close()` it on shutdown. */
export interface SmokeRunner extends SmokeGate {
  close(): Promise<void>
}

/**
 * Runs every configured check against EVERY target of a color (a release
 * half-deployed on one target must not pass), concurrently, on its own
 * undici Agent so checks never share the data plane's pools or the global
 * dispatcher. No checks configured: `ok: true` with an empty list.
 *
 * @example
 * const smoke = createSmokeRunner({ checks: config.smoke.checks, upstreams: config.upstreams })
 * const report = await smoke.run('green') // { color: 'green', ok, checks: [...] }
 */
export function createSmokeRunner(opts: SmokeRunnerOptions): SmokeRunner {
  const request = opts.request ?? undiciRequest
  const monotonic = opts.monotonic ?? (() => performance.now())
  const checks = opts.checks.slice()
  // Short keep-alive: checks are rare, idle sockets to upstreams are not wanted.
  const agent = new Agent({ keepAliveTimeout: 1000, keepAliveMaxTimeout: 1000 })

  async function one(check: SmokeCheckConfig, target: string): Promise<SmokeCheckResult> {
    const url = new URL(check.path, target.endsWith('/') ? target : `${target}/`).toString()
    const started = monotonic()
    const result = (ok: boolean, status: number | null, error: string | null): SmokeCheckResult => ({
      path: check.path,
      target,
      ok,
      status,
      error,
      ms: Math.round(monotonic() - started),
    })
    const signal = AbortSignal.timeout(check.timeoutMs)
    let res: Dispatcher.ResponseData
    try {
      res = await request(url, {
        method: check.method,
        dispatcher: agent,
        signal,
        headers: { 'user-agent': 'switchyard-smoke', 'x-switchyard-smoke': '1' },
        headersTimeout: check.timeoutMs,
        bodyTimeout: check.timeoutMs,
      })
    } catch (e) {
      return result(false, null, describe(e, check.timeoutMs, signal))
    }
    try {
      if (res.statusCode !== check.expectStatus) {
        await res.body.dump()
        return result(false, res.statusCode, `expected status ${check.expectStatus}, got ${res.statusCode}`)
      }
      if (check.bodyIncludes === undefined) {
        await res.body.dump()
        return result(true, res.statusCode, null)
      }
      const body = await readCapped(res.body)
      if (!body.includes(check.bodyIncludes)) {
        return result(false, res.statusCode, `body does not include ${JSON.stringify(check.bodyIncludes)}`)
      }
      return result(true, res.statusCode, null)
    } catch (e) {
      return result(false, res.statusCode, describe(e, check.timeoutMs, signal))
    }
  }

  return {
    async run(color: Color): Promise<SmokeReport> {
      const targets = opts.upstreams[color].targets
      const runs: Promise<SmokeCheckResult>[] = []
      for (const check of checks) for (const target of targets) runs.push(one(check, target))
      const results = await Promise.all(runs)
      return { color, ok: results.every((r) => r.ok), checks: results }
    },
    close: () => agent.close(),
  }
}

async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk)
    size += chunk.length
    if (size >= MAX_BODY_BYTES) {
      body.destroy()
      break
    }
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** A short, operator-readable reason for a failed check. */
function describe(e: unknown, timeoutMs: number, signal: AbortSignal): string {
  const err = e as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } }
  if (
    signal.aborted ||
    err.name === 'TimeoutError' ||
    err.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    err.code === 'UND_ERR_BODY_TIMEOUT' ||
    err.code === 'UND_ERR_CONNECT_TIMEOUT'
  ) {
    return `timed out after ${timeoutMs} ms`
  }
  const code = err.code ?? err.cause?.code
  const message = err.cause?.message ?? err.message ?? String(e)
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message
}
