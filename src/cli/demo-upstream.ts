import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A tiny application for `switchyard demo`: answers with its color, has a
 * `/health` for smoke checks, `/api/price` (green answers another price, for
 * the dark launch walk-through), and can be told to fail a share of requests
 * (`PUT /__demo/error-rate?value=0.5`) so auto-revert can be watched.
 */
export interface DemoUpstream {
  readonly url: string
  readonly server: Server
  close(): Promise<void>
}

export async function startDemoUpstream(
  color: string,
  version: string,
  random: () => number = Math.random,
  app?: string,
): Promise<DemoUpstream> {
  let errorRate = 0
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo')
    if (url.pathname === '/__demo/error-rate' && req.method === 'PUT') {
      const v = Number(url.searchParams.get('value'))
      if (!Number.isFinite(v) || v < 0 || v > 1) {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"value must be 0..1"}\n')
        return
      }
      errorRate = v
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ color, errorRate }) + '\n')
      return
    }
    if (url.pathname === '/health') {
      const healthy = errorRate < 1
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' }).end(healthy ? 'ok\n' : 'failing\n')
      return
    }
    req.resume()
    if (errorRate > 0 && random() < errorRate) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ color, error: 'injected failure' }) + '\n')
      return
    }
    if (url.pathname === '/api/price') {
      // The dark launch walk-through: green (v2) prices differently, so the shadow diff finds it.
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ sku: 'demo-1', price: color === 'green' ? 12 : 10, currency: 'EUR' }) + '\n')
      return
    }
    const body = {
      ...(app === undefined ? {} : { app }),
      color,
      version,
      path: url.pathname,
      cohort: req.headers['x-switchyard-cohort'] ?? null,
      seenColorHeader: req.headers['x-switchyard-color'] ?? null,
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n')
  })
  server.keepAliveTimeout = 70_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
