import { createServer, type IncomingMessage } from 'node:http'
import type { Test } from 'tap'
import { runClient, type ClientOptions } from '../../src/cli/client.js'

/** One request the fake admin saw. */
export interface Seen {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: string
}

/** What the fake answers: a status and a JSON body (or text with `text`). */
export interface Reply {
  status?: number
  json?: unknown
  text?: string
}

export type Handler = (req: Seen) => Reply | undefined

/**
 * A stand-in for the admin API on 127.0.0.1 (a free port): answers what the
 * test's handler says (404 NOT_FOUND JSON otherwise) and records every
 * request, so CLI tests can check paths and headers without a router.
 */
export async function fakeAdmin(t: Test, handler: Handler) {
  const seen: Seen[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (d: string) => (body += d))
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body }
      seen.push(s)
      const r = handler(s) ?? { status: 404, json: { error: { code: 'NOT_FOUND', message: `No route ${s.method} ${s.path}` } } }
      if (r.text !== undefined) {
        res.writeHead(r.status ?? 200, { 'content-type': 'text/html' }).end(r.text)
      } else {
        res.writeHead(r.status ?? 200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(r.json ?? {}))
      }
    })
  })
  server.keepAliveTimeout = 100
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  )
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const run = async (argv: string[], env: NodeJS.ProcessEnv = {}, opts: ClientOptions = {}) => {
    let out = ''
    let err = ''
    const code = await runClient(
      argv,
      { env: { SWITCHYARD_ADMIN_URL: url, USER: 'ana', ...env }, stdout: (s) => void (out += s), stderr: (s) => void (err += s) },
      {
        timeoutMs: 10_000,
        pollMs: 20,
        ...opts,
      },
    )
    return { code, out, err }
  }
  return { url, seen, run }
}

/** A write's answer as the admin API gives it. */
export function writeAnswer(version: number, converged: boolean | null = true, changed = true) {
  return {
    changed,
    state: {
      version,
      live: 'green',
      previous: 'blue',
      canary: 0,
      cohorts: [],
      rollout: null,
      updatedAt: '2025-01-01T00:00:00.000Z',
      lastFlipAt: null,
    },
    entry: changed
      ? { at: '2025-01-01T00:00:00.000Z', version, action: 'flip', from: 'blue', to: 'green', actor: 'cli:ana', reason: null }
      : null,
    converged,
  }
}
