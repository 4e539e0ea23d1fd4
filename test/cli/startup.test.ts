import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'

// `switchyard --version` and the operator commands must start fast: they must
// not load the router (fastify, undici, ioredis, pino, prom-client). Checked
// without timing, which would flake on a busy machine: by what is loaded.
const SERVER_PACKAGES = /node_modules\/(fastify|undici|ioredis|pino|prom-client|@fastify|yaml)\//

function loadedBy(argv: string[]): string[] {
  const entry = new URL('../../dist/cli/index.js', import.meta.url).href
  const script = `
    import { createRequire } from 'node:module'
    const { main } = await import(${JSON.stringify(entry)})
    const io = { env: {}, stdout: () => {}, stderr: () => {} }
    await main(${JSON.stringify(argv)}, io)
    const cache = createRequire(import.meta.url)('node:module')._cache
    process.stdout.write(JSON.stringify(Object.keys(cache)))
  `
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`)
  return JSON.parse(r.stdout) as string[]
}

t.test('--version, --help and a client command load none of the server packages', async (t) => {
  for (const argv of [['--version'], ['--help'], ['status', '--admin', 'http://127.0.0.1:1'], ['flip', '--help']]) {
    const server = loadedBy(argv).filter((p) => SERVER_PACKAGES.test(p))
    t.same(server, [], `${argv.join(' ')}: nothing of the server`)
  }
  // The check can fail: serve loads them.
  t.ok(
    loadedBy(['serve', '--bogus']).some((p) => SERVER_PACKAGES.test(p)),
    'serve does load the server',
  )
})

t.test('the client sources import the server side for types only', async (t) => {
  const dir = new URL('../../src/cli/', import.meta.url)
  const client = readdirSync(dir).filter((f) => /^(client|commands|completion|index|io)/.test(f))
  t.ok(client.length >= 6)
  for (const f of client) {
    const src = readFileSync(new URL(f, dir), 'utf8')
    const runtime = [...src.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1])
    const server = runtime.filter((m) =>
      /^\.\.\/(control|main|dataplane|config|observability|routing)|^(fastify|undici|ioredis|pino|prom-client)/.test(m),
    )
    t.same(server, [], `${f}: runtime imports stay on the client side`)
  }
})
