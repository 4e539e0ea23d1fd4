/**
 * A small upstream service for tests: it answers with its color and echoes
 * what it received, so a test can see both sides of the proxy.
 *
 *   GET  /anything        → 200 JSON {color, method, url, headers}
 *   GET  /status/<code>   → that status, same JSON
 *   ANY  /hold/<name>     → reads the body, answers only when the test calls `release(name)`
 *   GET  /bytes/<n>       → n bytes of a fixed pattern (see `patternBytes`)
 *   POST /sha             → JSON {sha256, bytes} of the request body
 *   GET  /set-cookie      → sets its own cookie `up=1` (and `up2=2`)
 *   Upgrade: any          → 101, then echoes every byte back
 *
 * Every response carries `x-served-by: <color>`.
 */
import { createHash } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'

export interface SeenRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  rawHeaders: string[]
}

export interface Upstream {
  color: string
  url: string
  port: number
  /** every request received, in order (upgrades included) */
  requests: SeenRequest[]
  /** resolves when a request to /hold/<name> has arrived */
  held(name: string): Promise<void>
  /** answers a held request (200, JSON echo) */
  release(name: string): void
  /** resolves when a held request's connection closed without an answer */
  abandoned(name: string): Promise<void>
  /** stops the server and destroys every socket it still has */
  close(): Promise<void>
}

export interface UpstreamOptions {
  color: string
  /** answer a request yourself; return true when handled */
  handler?: (req: IncomingMessage, res: ServerResponse) => boolean
}

/** The byte at offset i of a /bytes/<n> download. */
export function patternBytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff
  return b
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex')
}

function echo(color: string, req: IncomingMessage, res: ServerResponse, status = 200): void {
  const body = JSON.stringify({ color, method: req.method, url: req.url, headers: req.headers })
  res.writeHead(status, { 'content-type': 'application/json', 'x-served-by': color })
  res.end(body)
}

/** Starts an upstream on 127.0.0.1, on a free port. */
export async function startUpstream(opts: UpstreamOptions): Promise<Upstream> {
  const { color } = opts
  const requests: SeenRequest[] = []
  const holds = new Map<string, { req: IncomingMessage; res: ServerResponse }>()
  const events = new EventEmitter()
  const sockets = new Set<Duplex>()

  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders })
    if (opts.handler !== undefined && opts.handler(req, res)) return
    const url = req.url ?? '/'
    if (url.startsWith('/hold/')) {
      const name = url.slice(6)
      // Read (and drop) the body, so an upload keeps flowing while held.
      req.resume()
      req.on('error', () => {})
      holds.set(name, { req, res })
      events.emit(`held:${name}`)
      return
    }
    if (url.startsWith('/status/')) {
      req.resume()
      req.on('end', () => echo(color, req, res, Number(url.slice(8))))
      return
    }
    if (url.startsWith('/bytes/')) {
      const body = patternBytes(Number(url.slice(7)))
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-served-by': color })
      res.end(body)
      return
    }
    if (url === '/sha') {
      const h = createHash('sha256')
      let bytes = 0
      req.on('data', (c: Buffer) => {
        bytes += c.length
        h.update(c)
      })
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': color })
        res.end(JSON.stringify({ sha256: h.digest('hex'), bytes }))
      })
      req.on('error', () => {})
      return
    }
    if (url === '/set-cookie') {
      res.setHeader('set-cookie', ['up=1; Path=/', 'up2=2; Path=/'])
      echo(color, req, res)
      return
    }
    req.resume()
    req.on('end', () => echo(color, req, res))
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders })
    sockets.add(socket)
    socket.on('error', () => socket.destroy())
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        `Upgrade: ${req.headers.upgrade ?? 'echo'}\r\nConnection: Upgrade\r\n` +
        `x-served-by: ${color}\r\n\r\n`,
    )
    if (head.length > 0) socket.write(head)
    socket.pipe(socket)
  })

  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port

  return {
    color,
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    held(name) {
      if (holds.has(name)) return Promise.resolve()
      return once(events, `held:${name}`).then(() => undefined)
    },
    abandoned(name) {
      const h = holds.get(name)
      if (h === undefined) return Promise.reject(new Error(`no held request ${name}`))
      if (h.res.destroyed) return Promise.resolve()
      return once(h.res, 'close').then(() => undefined)
    },
    release(name) {
      const h = holds.get(name)
      if (h === undefined) throw new Error(`no held request ${name}`)
      holds.delete(name)
      echo(color, h.req, h.res)
    },
    async close() {
      for (const s of sockets) s.destroy()
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

export { freePort } from './net.js'
