// Contender: fastify 5 + @fastify/http-proxy (undici pool through @fastify/reply-from).
// Usage: node bench/fastify-proxy.js <upstream-url> [port]   (prints "listening <port>")
import Fastify from 'fastify'
import proxy from '@fastify/http-proxy'

const app = Fastify({ logger: false, keepAliveTimeout: 120_000, bodyLimit: 10 * 1024 * 1024 })
await app.register(proxy, {
  upstream: process.argv[2],
  undici: { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 },
})
await app.listen({ port: Number(process.argv[3] ?? 0), host: '127.0.0.1' })
process.stdout.write(`listening ${app.server.address().port}\n`)
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0))
