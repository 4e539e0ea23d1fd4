/**
 * The contenders of the race. Each `start(ctx)` launches its process(es),
 * waits until they proxy a request, and resolves with `{ url, proc, info }`;
 * it throws when the contender cannot run (the run reports an error row).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, launch, onPath, waitForHttp, waitForLine } from './procs.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BENCH = join(ROOT, 'bench')

/** Users in the bench's users cohort; the load's key is deliberately not one of them. */
export const COHORT_USERS = 10_000
/** The stickiness key every bench request carries (header x-user-id). */
export const BENCH_USER = 'visitor-4242'

async function startScript(name, script, args, ctx) {
  const proc = launch(name, process.execPath, [...(ctx.nodeFlags ?? []), join(BENCH, script), ...args], {
    core: ctx.proxyCore,
    pin: ctx.pin,
  })
  const m = await waitForLine(proc, /listening (\d+)/)
  const url = `http://127.0.0.1:${m[1]}`
  await waitForHttp(`${url}/small`, { proc })
  return { url, proc }
}

async function adminCall(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`admin ${method} ${path} → ${res.status} ${text.slice(0, 200)}`)
  return text
}

/** The cohorts of the "full" switchyard: one header, one 10,000-user, one percent cohort. */
export function benchCohorts() {
  const users = new Array(COHORT_USERS)
  for (let i = 0; i < COHORT_USERS; i++) users[i] = `user-${i}`
  return [
    { name: 'beta-testers', color: 'idle', match: { headers: { 'x-beta': 'yes' } } },
    { name: 'staff', color: 'idle', match: { users } },
    { name: 'early-birds', color: 'idle', match: { percent: 5 } },
  ]
}

async function startSwitchyard(ctx, full) {
  const bin = join(ROOT, 'bin', 'switchyard.js')
  if (!existsSync(bin)) throw new Error('bin/switchyard.js not found')
  if (!existsSync(join(ROOT, 'dist', 'cli', 'index.js'))) throw new Error('not built: run `npm run build` first')
  const name = full ? 'switchyard-full' : 'switchyard'
  const dir = join(ctx.tmp, name)
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const adminPort = await freePort()
  const config = {
    listen: { host: '127.0.0.1', port },
    admin: { host: '127.0.0.1', port: adminPort },
    upstreams: { blue: { targets: [ctx.upstreamUrl] }, green: { targets: [ctx.upstreamUrl] } },
    initial: { live: 'blue' },
    store: { type: 'file', path: join(dir, 'state.json') },
    stickiness: { header: 'x-user-id' },
    log: { level: 'warn' },
  }
  const file = join(dir, 'config.json')
  writeFileSync(file, JSON.stringify(config, null, 2))
  const entry = ctx.serveDirect ? [join(BENCH, 'lib', 'serve-dist.js')] : [bin, 'serve']
  const args = [...(ctx.nodeFlags ?? []), ...entry, '--config', file]
  const proc = launch(name, process.execPath, args, { core: ctx.proxyCore, pin: ctx.pin, cwd: dir })
  const url = `http://127.0.0.1:${port}`
  const admin = `http://127.0.0.1:${adminPort}`
  await waitForHttp(`${url}/small`, { proc, timeoutMs: 20_000 })
  const info = { admin, config: file }
  if (full) {
    await adminCall(admin, 'PUT', '/v1/canary', { percent: 10, force: true, reason: 'bench' })
    for (const c of benchCohorts()) {
      await adminCall(admin, 'PUT', `/v1/cohorts/${c.name}`, { color: c.color, match: c.match })
    }
    const state = JSON.parse(await adminCall(admin, 'GET', '/v1/state'))
    info.canary = state.canary
    info.cohorts = (state.cohorts ?? []).map((c) => c.name)
    if (state.canary !== 10 || info.cohorts.length !== 3) {
      throw new Error(`state not applied: canary ${state.canary}, cohorts ${info.cohorts.join(',')}`)
    }
  }
  // Which color and rule the bench's requests get: proves the routing is on.
  const res = await fetch(`${url}/small`, { headers: { 'x-user-id': BENCH_USER } })
  await res.arrayBuffer()
  info.color = res.headers.get('x-switchyard-color')
  return { url, proc, info }
}

function nginxConfig(dir, port, upstreamUrl) {
  const up = new URL(upstreamUrl)
  const user = process.getuid?.() === 0 ? 'user root root;\n' : ''
  return `${user}worker_processes 1;
master_process off;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  keepalive_timeout 120s;
  keepalive_requests 1000000;
  client_max_body_size 10m;
  client_body_buffer_size 128k;
  upstream up { server ${up.host}; keepalive 128; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
    }
  }
}
`
}

async function startNginx(ctx) {
  if (!onPath('nginx')) throw Object.assign(new Error('nginx is not on PATH (apt-get install nginx-light)'), { skip: true })
  const dir = join(ctx.tmp, 'nginx')
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, nginxConfig(dir, port, ctx.upstreamUrl))
  const proc = launch('nginx', 'nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { core: ctx.proxyCore, pin: ctx.pin })
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/small`, { proc })
  return { url, proc, info: { config: conf } }
}

/** Every contender, in race order. `isSwitchyard` marks the ones the ratios are about. */
export const CONTENDERS = [
  {
    id: 'direct',
    label: 'upstream direct',
    about: 'the upstream itself, no proxy: the ceiling',
    start: async (ctx) => ({ url: ctx.upstreamUrl, proc: ctx.upstream, info: {}, shared: true }),
  },
  {
    id: 'switchyard',
    label: 'switchyard (live only)',
    about: 'switchyard, live color only, metrics on',
    isSwitchyard: true,
    start: (ctx) => startSwitchyard(ctx, false),
  },
  {
    id: 'switchyard-full',
    label: 'switchyard (canary+cohorts)',
    about: 'switchyard, canary 10% + 3 cohorts (header, 10,000 users, 5% bucket) + metrics',
    isSwitchyard: true,
    start: (ctx) => startSwitchyard(ctx, true),
  },
  {
    id: 'bare-undici',
    label: 'bare undici',
    about: 'bench/bare-undici.js: node:http + undici Pool.dispatch, the plain Node limit',
    start: (ctx) => startScript('bare-undici', 'bare-undici.js', [ctx.upstreamUrl], ctx),
  },
  {
    id: 'http-proxy',
    label: 'http-proxy',
    about: 'http-proxy 1.18 with a keep-alive http.Agent',
    start: (ctx) => startScript('http-proxy', 'http-proxy.js', [ctx.upstreamUrl], ctx),
  },
  {
    id: 'fastify-proxy',
    label: '@fastify/http-proxy',
    about: 'fastify 5 + @fastify/http-proxy (undici via @fastify/reply-from)',
    start: (ctx) => startScript('fastify-proxy', 'fastify-proxy.js', [ctx.upstreamUrl], ctx),
  },
  {
    id: 'nginx',
    label: 'nginx (1 worker)',
    about: 'nginx, one worker, upstream keepalive 128',
    start: startNginx,
  },
]
