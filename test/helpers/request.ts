/**
 * HTTP client helpers for tests: one fresh connection per request (no agent),
 * so nothing is left open between tests.
 */
import http from 'node:http'
import type { Readable } from 'node:stream'

export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  /** the body parsed as JSON */
  json<T = any>(): T
}

export interface RequestOptions {
  method?: string
  headers?: http.OutgoingHttpHeaders
  /** a whole body, or a stream piped as the body */
  body?: string | Buffer | Readable
  agent?: http.Agent | false
}

/** Sends one request and collects the whole response. */
export function request(url: string, opts: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json: () => JSON.parse(body.toString('utf8')),
        })
      })
    })
    req.on('error', reject)
    const b = opts.body
    if (b === undefined) req.end()
    else if (typeof b === 'string' || Buffer.isBuffer(b)) req.end(b)
    else b.pipe(req)
  })
}

/** The `set-cookie` headers of a reply (always an array). */
export function setCookies(r: Reply): string[] {
  const v = r.headers['set-cookie']
  return v === undefined ? [] : v
}
