// bench/bare-undici.js with undici's new handler API (onRequestStart,
// onResponseStart, onResponseData, onResponseEnd, onResponseError: the only
// one undici 8 has), to tell what undici 8 changes from what the API changes:
//   bare-undici8       → this file on undici 8 (the `undici8` devDependency alias)
//   bare-undici-v8api  → this file on undici 7 (which wraps such a handler and
//                        translates its own onHeaders/onData/… calls)
// In both, the controller carries the raw header list (`controller.rawHeaders`),
// used here as bare-undici.js uses onHeaders' list; undici parses an object
// for onResponseStart's `headers` argument anyway (that cost is measured in).
// Usage: node bench/bare-undici-v8api.js <upstream-url> [port] [undici|undici8]   (prints "listening <port>")
import http from 'node:http'

const undici = process.argv[4] ?? 'undici8'
if (undici !== 'undici' && undici !== 'undici8') throw new Error(`undici module is undici or undici8, not ${undici}`)
const { Pool } = await import(undici)

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host'])
const pool = new Pool(process.argv[2], { connections: 128, keepAliveTimeout: 60_000 })

// A client that goes away must abort its upstream request, or a paused
// response would hold a pooled connection forever.
function onClose() {
  const f = this.forward
  if (!f.done && f.controller !== null) f.controller.abort(new Error('client closed'))
}
function onDrain() {
  const f = this.forward
  if (f.controller !== null) f.controller.resume()
}

const latin1 = (x) => (typeof x === 'string' ? x : x.toString('latin1'))

class Forward {
  constructor(res) {
    this.res = res
    this.controller = null
    this.done = false
    res.forward = this
    res.on('close', onClose)
  }
  onRequestStart(controller) {
    this.controller = controller
  }
  onResponseStart(controller, status) {
    const raw = controller.rawHeaders
    const flat = []
    for (let i = 0; i < raw.length; i += 2) {
      const name = latin1(raw[i])
      if (!HOP.has(name.toLowerCase())) flat.push(name, latin1(raw[i + 1]))
    }
    this.res.writeHead(status, flat)
  }
  onResponseData(controller, chunk) {
    if (this.res.write(chunk)) return
    controller.pause()
    if (this.res.listenerCount('drain') === 0) this.res.on('drain', onDrain)
  }
  onResponseEnd() {
    this.done = true
    this.res.end()
  }
  onResponseError(controller, err) {
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
server.listen(Number(process.argv[3] || 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
})
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0))
