/**
 * The contenders of the race. Each `start(ctx)` launches its process(es),
 * waits until they proxy a request, and resolves with `{ url, proc, info }`;
 * it throws when the contender cannot run (the run reports an error row).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { appName, manyApps } from './apps-config.js'
import { freePort, httpGet, launch, onPath, waitForHttp, waitForLine } from './procs.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BENCH = join(ROOT, 'bench')

/** Users in the bench's users cohort; the load's key is deliberately not one of them. */
export const COHORT_USERS = 10_000
/** The stickiness key every bench request carries (header x-user-id). */
export const BENCH_USER = 'visitor-4242'

/** Apps of the full switchyard, a quarter of them named by a `*.` wildcard only. */
export const APP_COUNT = 60
const FULL_SHAPE = { count: APP_COUNT, wildcardEvery: 4 }
/** The app the bench's requests go to: the last one, matched through its wildcard. */
const BENCH_APP_INDEX = APP_COUNT - 1
export const BENCH_APP = appName(BENCH_APP_INDEX)
/** The Host every bench request carries, to every contender (`www.app-59.bench.test`). */
export const BENCH_HOST = manyApps({ ...FULL_SHAPE, upstreamsOf: () => null }).requestHost(BENCH_APP_INDEX)

/** The headers of every bench request, whatever the contender. */
export const BENCH_HEADERS = Object.freeze({ host: BENCH_HOST, 'x-user-id': BENCH_USER })

/** The Node binary a contender runs on: the bench's own unless `--node` made a twin. */
function nodeOf(ctx) {
  return ctx.execPath ?? process.execPath
}

async function startScript(name, script, args, ctx) {
  const proc = launch(name, nodeOf(ctx), [...(ctx.nodeFlags ?? []), join(BENCH, script), ...args], {
    core: ctx.proxyCore,
    pin: ctx.pin,
  })
  const m = await waitForLine(proc, /listening (\d+)/)
  const url = `http://127.0.0.1:${m[1]}`
  await waitForHttp(`${url}/small`, { proc, headers: BENCH_HEADERS })
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

/**
 * The config of the `switchyard` contender (one app, the single-app shape) or
 * of `switchyard-full` (APP_COUNT apps, every color of every app on the bench
 * upstream, no `defaultApp`: a request without a known Host gets 404).
 */
export function switchyardConfig(ctx, full, dir, port, adminPort) {
  const upstreams = { blue: { targets: [ctx.upstreamUrl] }, green: { targets: [ctx.upstreamUrl] } }
  const config = {
    listen: { host: '127.0.0.1', port },
    admin: { host: '127.0.0.1', port: adminPort },
    store: { type: 'file', path: join(dir, 'state.json') },
    stickiness: { header: 'x-user-id' },
    log: { level: 'warn' },
    initial: { live: 'blue' },
  }
  if (!full) return { ...config, upstreams }
  return { ...config, apps: manyApps({ ...FULL_SHAPE, upstreamsOf: () => upstreams }).apps }
}

/** Canary 10% and the 3 cohorts on the bench app, through the per-app admin routes; checks they hold. */
async function applyFullState(admin) {
  const base = `/v1/apps/${BENCH_APP}`
  await adminCall(admin, 'PUT', `${base}/canary`, { percent: 10, force: true, reason: 'bench' })
  for (const c of benchCohorts()) {
    await adminCall(admin, 'PUT', `${base}/cohorts/${c.name}`, { color: c.color, match: c.match })
  }
  const state = JSON.parse(await adminCall(admin, 'GET', `${base}/state`))
  const cohorts = (state.cohorts ?? []).map((c) => c.name)
  if (state.canary !== 10 || cohorts.length !== 3) {
    throw new Error(`state of ${BENCH_APP} not applied: canary ${state.canary}, cohorts ${cohorts.join(',')}`)
  }
  const { apps } = JSON.parse(await adminCall(admin, 'GET', '/v1/apps'))
  return { canary: state.canary, cohorts, apps: apps.length, app: BENCH_APP, host: BENCH_HOST }
}

async function startSwitchyard(ctx, full) {
  const bin = join(ROOT, 'bin', 'switchyard.js')
  if (!existsSync(bin)) throw new Error('bin/switchyard.js not found')
  if (!existsSync(join(ROOT, 'dist', 'cli', 'index.js'))) throw new Error('not built: run `npm run build` first')
  const name = ctx.name ?? (full ? 'switchyard-full' : 'switchyard')
  const dir = join(ctx.tmp, name)
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const adminPort = await freePort()
  const file = join(dir, 'config.json')
  writeFileSync(file, JSON.stringify(switchyardConfig(ctx, full, dir, port, adminPort), null, 2))
  const entry = ctx.serveDirect ? [join(BENCH, 'lib', 'serve-dist.js')] : [bin, 'serve']
  const args = [...(ctx.nodeFlags ?? []), ...entry, '--config', file]
  const proc = launch(name, nodeOf(ctx), args, { core: ctx.proxyCore, pin: ctx.pin, cwd: dir })
  const url = `http://127.0.0.1:${port}`
  const admin = `http://127.0.0.1:${adminPort}`
  await waitForHttp(`${url}/small`, { proc, timeoutMs: 20_000, headers: BENCH_HEADERS })
  const info = { admin, config: file }
  if (full) Object.assign(info, await applyFullState(admin))
  // Which color and rule the bench's requests get: proves the routing is on.
  const res = await httpGet(`${url}/small`, BENCH_HEADERS)
  if (res.status !== 200) throw new Error(`GET /small with Host ${BENCH_HOST} → ${res.status} ${res.body.slice(0, 200)}`)
  info.color = res.headers['x-switchyard-color'] ?? null
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

/**
 * Every contender, in race order. `isSwitchyard` marks the ones the ratios
 * are about; `node` the ones that run on Node (`--node` can add a twin of
 * each on another Node binary); `optional` ones run only when named
 * (`--only`, `--with`).
 */
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
    about: 'switchyard, one app (single-app shape), live color only, metrics on',
    isSwitchyard: true,
    node: true,
    start: (ctx) => startSwitchyard(ctx, false),
  },
  {
    id: 'switchyard-full',
    label: 'switchyard (60 apps, canary+cohorts)',
    about: `switchyard, ${APP_COUNT} apps (a quarter by *. wildcard), requests to ${BENCH_APP} by wildcard Host; canary 10% + 3 cohorts (header, 10,000 users, 5% bucket) + metrics`,
    isSwitchyard: true,
    node: true,
    start: (ctx) => startSwitchyard(ctx, true),
  },
  {
    id: 'bare-undici',
    label: 'bare undici',
    about: 'bench/bare-undici.js: node:http + undici Pool.dispatch, the plain Node limit',
    node: true,
    start: (ctx) => startScript(ctx.name ?? 'bare-undici', 'bare-undici.js', [ctx.upstreamUrl], ctx),
  },
  {
    id: 'bare-undici8',
    label: 'bare undici 8',
    about: 'bench/bare-undici-v8api.js on undici 8: the same bare proxy with the onRequestStart/onResponseStart handler API',
    node: true,
    minNode: '22.19.0', // undici 8's engines
    optional: true,
    start: (ctx) => startScript(ctx.name ?? 'bare-undici8', 'bare-undici-v8api.js', [ctx.upstreamUrl, '', 'undici8'], ctx),
  },
  {
    id: 'bare-undici-v8api',
    label: 'bare undici 7, new API',
    about: 'bench/bare-undici-v8api.js on undici 7: the new handler API through undici 7 (separates "undici 8" from "new API")',
    node: true,
    optional: true,
    start: (ctx) => startScript(ctx.name ?? 'bare-undici-v8api', 'bare-undici-v8api.js', [ctx.upstreamUrl, '', 'undici'], ctx),
  },
  {
    id: 'http-proxy',
    label: 'http-proxy',
    about: 'http-proxy 1.18 with a keep-alive http.Agent',
    node: true,
    start: (ctx) => startScript(ctx.name ?? 'http-proxy', 'http-proxy.js', [ctx.upstreamUrl], ctx),
  },
  {
    id: 'fastify-proxy',
    label: '@fastify/http-proxy',
    about: 'fastify 5 + @fastify/http-proxy (undici via @fastify/reply-from)',
    node: true,
    start: (ctx) => startScript(ctx.name ?? 'fastify-proxy', 'fastify-proxy.js', [ctx.upstreamUrl], ctx),
  },
  {
    id: 'nginx',
    label: 'nginx (1 worker)',
    about: 'nginx, one worker, upstream keepalive 128',
    start: startNginx,
  },
]

/** The Node version (`20.20.2`) of a node binary; throws when it does not run. */
export function nodeVersionOf(execPath) {
  const r = spawnSync(execPath, ['-p', 'process.versions.node'], { encoding: 'utf8', timeout: 10_000 })
  if (r.status !== 0) throw new Error(`${execPath} -p process.versions.node: ${r.error?.message ?? r.stderr.trim()}`)
  return r.stdout.trim()
}

/**
 * A twin of Node contender `c` that runs on the node binary `execPath`
 * (version `version`): id `<id>@node<major>`, its own process and files.
 */
export function onNode(c, execPath, version) {
  const id = `${c.id}@node${version.split('.')[0]}`
  return {
    ...c,
    id,
    label: `${c.label} · Node ${version.split('.')[0]}`,
    about: `${c.about}; on Node ${version} (${execPath})`,
    baseId: c.id,
    nodeVersion: version,
    optional: false,
    start: (ctx) => c.start({ ...ctx, execPath, name: id }),
  }
}

/** Whether Node version a (`20.20.2`) is older than b. */
export function olderThan(a, b) {
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i]
  return false
}
