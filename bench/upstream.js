/**
 * The bench's upstream: a plain node:http server with keep-alive that every
 * contender forwards to. Answers are precomputed so the upstream costs as
 * little as possible per request.
 *
 *   GET  /small   → 13-byte body
 *   GET  /16k     → 16 KiB body
 *   POST /upload  → reads the whole body (e.g. 64 KiB), answers its length
 *   GET  /health  → "ok" (smoke checks)
 *
 * Usage: node bench/upstream.js [port] [extra]   (0 = any free port; prints "listening <port>";
 *        with `extra` > 0 it also listens on that many more free ports and prints "also <p1,p2,...>",
 *        so a many-apps bench gets one origin, hence one pool, per target)
 */
import http from 'node:http'

const SMALL = Buffer.from('hello, world\n')
const BIG = Buffer.alloc(16 * 1024, 'x')
const OK = Buffer.from('ok\n')
const textHeaders = (len) => ({ 'content-type': 'text/plain', 'content-length': String(len) })
const SMALL_HEADERS = textHeaders(SMALL.length)
const BIG_HEADERS = textHeaders(BIG.length)
const OK_HEADERS = textHeaders(OK.length)

function onUpload(req, res) {
  let n = 0
  req.on('data', (c) => {
    n += c.length
  })
  req.on('end', () => {
    const body = String(n)
    res.writeHead(200, textHeaders(body.length))
    res.end(body)
  })
}

const server = http.createServer((req, res) => {
  const url = req.url
  if (req.method === 'POST' && url === '/upload') return onUpload(req, res)
  if (url === '/small') {
    res.writeHead(200, SMALL_HEADERS)
    res.end(SMALL)
  } else if (url === '/16k') {
    res.writeHead(200, BIG_HEADERS)
    res.end(BIG)
  } else if (url === '/health' || url === '/') {
    res.writeHead(200, OK_HEADERS)
    res.end(OK)
  } else {
    req.resume()
    res.writeHead(404, OK_HEADERS)
    res.end(OK)
  }
})
server.keepAliveTimeout = 120_000
server.headersTimeout = 121_000
server.requestTimeout = 0
server.maxRequestsPerSocket = 0

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
  const extra = Number(process.argv[3] ?? 0)
  if (extra > 0) {
    const ports = []
    // The same handler on more sockets: node:http servers share nothing else.
    for (let i = 0; i < extra; i++) {
      const more = http.createServer(server.listeners('request')[0])
      more.keepAliveTimeout = server.keepAliveTimeout
      more.headersTimeout = server.headersTimeout
      more.requestTimeout = 0
      more.listen(0, '127.0.0.1', () => {
        ports.push(more.address().port)
        if (ports.length === extra) process.stdout.write(`also ${ports.join(',')}\n`)
      })
    }
  }
})
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0))
