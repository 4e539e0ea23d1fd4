// The "plain Node limit": a node:http server forwarding every request to one
// upstream through an undici Pool (keep-alive) with dispatch() and a handler
// object, dropping hop-by-hop headers and adding x-forwarded-for. The handler
// uses undici's core callbacks (onHeaders with raw headers), which undici 7
// runs without the adapter and header parsing that onResponseStart costs.
// Usage: node bench/bare-undici.js <upstream-url> [port]   (prints "listening <port>")
import http from 'node:http'
import { Pool } from 'undici'

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host'])
const pool = new Pool(process.argv[2], { connections: 128, keepAliveTimeout: 60_000 })

// A client that goes away must abort its upstream request, or a paused
// response would hold a pooled connection forever.
function onClose() {
  const f = this.forward
  if (!f.done && f.abort !== null) f.abort(new Error('client closed'))
}
function onDrain() {
  const f = this.forward
  if (f.resume !== null) f.resume()
}

class Forward {
  constructor(res) {
    this.res = res
    this.abort = null
    this.resume = null
    this.done = false
    res.forward = this
    res.on('close', onClose)
  }
  onConnect(abort) {
    this.abort = abort
  }
  onHeaders(status, raw, resume) {
    const flat = []
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toString('latin1')
      if (!HOP.has(name.toLowerCase())) flat.push(name, raw[i + 1].toString('latin1'))
    }
    this.res.writeHead(status, flat)
    this.resume = resume
    return true
  }
  onData(chunk) {
    if (this.res.write(chunk)) return true
    if (this.res.listenerCount('drain') === 0) this.res.on('drain', onDrain)
    return false
  }
  onComplete() {
    this.done = true
    this.res.end()
  }
  onError(err) {
    this.done = true
    if (!this.res.headersSent) {
      this.res.writeHead(502, { 'content-length': '0' })
      this.res.end()
    } else this.res.destroy(err)
  }
}

const server = http.createServer((req, res) => {
  const raw = req.rawHeaders
  const headers = []
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1])
  headers.push('x-forwarded-for', req.socket.remoteAddress)
  const body = req.method === 'GET' || req.method === 'HEAD' ? null : req
  pool.dispatch({ path: req.url, method: req.method, headers, body }, new Forward(res))
})
server.keepAliveTimeout = 120_000
server.headersTimeout = 121_000
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
})
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0))
