import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A test application that answers with its color; behaviour can be changed live. */
export interface ColorServer {
  url: string
  server: Server
  /** requests served so far */
  hits: number
  /** status to answer with (default 200) */
  status: number
  /** delay before answering, ms */
  delayMs: number
  /** status of GET /health */
  healthStatus: number
  close(): Promise<void>
}

export async function startColorServer(color: string): Promise<ColorServer> {
  const s: ColorServer = {
    url: '',
    server: undefined as unknown as Server,
    hits: 0,
    status: 200,
    delayMs: 0,
    healthStatus: 200,
    close: async () => {},
  }
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/health') {
      res.writeHead(s.healthStatus, { 'content-type': 'text/plain' }).end(s.healthStatus === 200 ? 'ok' : 'down')
      return
    }
    s.hits++
    const answer = () => {
      res.writeHead(s.status, { 'content-type': 'application/json', 'x-served-by': color })
      res.end(JSON.stringify({ color, cohort: req.headers['x-switchyard-cohort'] ?? null }))
    }
    req.resume()
    req.once('end', () => (s.delayMs > 0 ? setTimeout(answer, s.delayMs) : answer()))
  }
  s.server = createServer(handle)
  await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r))
  s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`
  s.close = () =>
    new Promise<void>((r) => {
      s.server.closeAllConnections()
      s.server.close(() => r())
    })
  return s
}
