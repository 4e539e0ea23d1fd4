import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'

/** Helpers for the watch/auto-revert end-to-end tests (test/e2e/watch.test.ts). */

export { sleep } from '../helpers/time.js'
export { waitFor } from '../helpers/wait.js'
import { sleep } from '../helpers/time.js'

/** One answer seen by the traffic generator. */
export interface Answer {
  status: number
  /** the x-switchyard-color response header */
  color: string | undefined
  /** the color the upstream says it is (body), when it answered */
  servedBy: string | undefined
  user: string
  /** Date.now() when the answer arrived */
  at: number
}

/**
 * Sends requests to the proxy; each request gets a new stickiness key
 * (`x-user-id: <prefix>-<n>`) so a canary split sees many distinct users.
 */
export class Traffic {
  readonly pool: Pool
  readonly answers: Answer[] = []
  readonly failures: string[] = []
  #n = 0
  #stopped = false
  #workers: Promise<void>[] = []

  constructor(
    readonly proxyUrl: string,
    readonly prefix = 'user',
    connections = 4,
  ) {
    this.pool = new Pool(proxyUrl, { connections, pipelining: 1 })
  }

  /** Sends one request; never throws (a transport failure is recorded). */
  async one(headers: Record<string, string> = {}): Promise<Answer | null> {
    const user = `${this.prefix}-${this.#n++}`
    try {
      const res = await this.pool.request({ path: '/', method: 'GET', headers: { 'x-user-id': user, ...headers } })
      const text = await res.body.text()
      let servedBy: string | undefined
      try {
        servedBy = (JSON.parse(text) as { color?: string }).color
      } catch {
        servedBy = undefined
      }
      const a: Answer = { status: res.statusCode, color: header(res.headers, 'x-switchyard-color'), servedBy, user, at: Date.now() }
      this.answers.push(a)
      return a
    } catch (e) {
      this.failures.push((e as Error).message)
      return null
    }
  }

  /** Sends `n` requests, `concurrency` at a time; returns their answers. */
  async burst(n: number, headers: Record<string, string> = {}, concurrency = 4): Promise<Answer[]> {
    const out: Answer[] = []
    let left = n
    const worker = async () => {
      while (left > 0) {
        left--
        const a = await this.one(headers)
        if (a !== null) out.push(a)
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
    return out
  }

  /** Keeps `concurrency` requests in flight until `stop()`. */
  startBackground(concurrency = 3): void {
    for (let i = 0; i < concurrency; i++) {
      this.#workers.push(
        (async () => {
          while (!this.#stopped) {
            await this.one()
            // a breath between requests, so a busy 2-core machine still runs the router's timers
            await sleep(5)
          }
        })(),
      )
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await Promise.all(this.#workers)
    this.#workers = []
  }

  async close(): Promise<void> {
    await this.stop()
    await this.pool.close()
  }
}

function header(h: IncomingHttpHeaders | Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name]
  return Array.isArray(v) ? v[0] : v
}

/** One sample of Prometheus text: name, labels, value. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses Prometheus text exposition (samples only; # HELP/# TYPE kept in `types`). */
export function parseMetrics(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ')
      types.set(name, type)
      continue
    }
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    if (m[2] !== undefined) {
      for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    }
    const raw = m[3]
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw)
    samples.push({ name: m[1], labels, value })
  }
  return { samples, types }
}

/** The samples of `name` whose labels include every pair of `labels`. */
export function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
}

/** The value of the one sample of `name` with exactly `labels`, or undefined. */
export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.keys(labels).length
  const hit = find(samples, name, labels).filter((s) => Object.keys(s.labels).length === want)
  return hit.length === 1 ? hit[0].value : undefined
}

/** A webhook receiver on 127.0.0.1:0 collecting every POSTed JSON body. */
export interface WebhookReceiver {
  url: string
  server: Server
  received: { headers: IncomingHttpHeaders; body: any }[]
  close(): Promise<void>
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: WebhookReceiver['received'] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      let body: unknown
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        body = Buffer.concat(chunks).toString('utf8')
      }
      if (req.method === 'POST') received.push({ headers: req.headers, body })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  return {
    url,
    server,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}
