// Contender: node-http-proxy with a keep-alive agent (what many Node users pick).
// Usage: node bench/http-proxy.js <upstream-url> [port]   (prints "listening <port>")
import http from 'node:http'
import httpProxy from 'http-proxy'

const agent = new http.Agent({ keepAlive: true, maxSockets: 128, keepAliveMsecs: 60_000 })
const proxy = httpProxy.createProxyServer({ target: process.argv[2], agent, xfwd: true })
proxy.on('error', (err, req, res) => {
  if (res.headersSent === false) {
    res.writeHead(502, { 'content-length': '0' })
    res.end()
  } else res.destroy(err)
})
const server = http.createServer((req, res) => proxy.web(req, res))
server.keepAliveTimeout = 120_000
server.headersTimeout = 121_000
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
})
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0))
