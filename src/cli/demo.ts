import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { validateConfig } from '../config/index.js'
import { startRouter, type RunningRouter } from '../main.js'
import { startDemoUpstream, type DemoUpstream } from './demo-upstream.js'
import { describeStartError, type Io } from './io.js'
import { runUntilSignal } from './serve.js'

/** `port` if it is free on `host`, else a free one the OS picks. */
async function freePort(host: string, port: number): Promise<number> {
  const tryListen = (p: number) =>
    new Promise<number | null>((resolve) => {
      const s = createServer()
      s.once('error', () => resolve(null))
      s.listen(p, host, () => {
        const a = s.address()
        const got = typeof a === 'object' && a !== null ? a.port : null
        s.close(() => resolve(got))
      })
    })
  return (await tryListen(port)) ?? (await tryListen(0)) ?? 0
}

/** The demo's apps, each on `<name>.localhost`. */
const DEMO_APPS = ['shop', 'blog'] as const

/**
 * `switchyard demo`: two apps (shop, blog) with blue and green upstreams each, a router in front with a file store
 * in a temp folder, and the commands to try. Needs nothing else running.
 */
export async function demo(argv: string[], io: Io): Promise<number> {
  let values: { port?: string; 'admin-port'?: string; 'preview-port'?: string }
  try {
    values = parseArgs({
      args: argv,
      options: { port: { type: 'string' }, 'admin-port': { type: 'string' }, 'preview-port': { type: 'string' } },
      strict: true,
    }).values
  } catch (e) {
    io.stderr(`switchyard demo: ${(e as Error).message}\nusage: switchyard demo [--port 8080] [--preview-port 8081] [--admin-port 9901]\n`)
    return 2
  }
  const want = (v: string | undefined, d: number) => (v === undefined ? d : Number(v))
  const ports = [want(values.port, 8080), want(values['preview-port'], 8081), want(values['admin-port'], 9901)]
  if (ports.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) {
    io.stderr('switchyard demo: ports must be numbers from 0 to 65535\n')
    return 2
  }
  const upstreams: DemoUpstream[] = []
  let router: RunningRouter
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'))
  try {
    // Two apps, each with a blue (v1) and a green (v2) release.
    for (const app of DEMO_APPS) {
      upstreams.push(await startDemoUpstream('blue', 'v1', Math.random, app), await startDemoUpstream('green', 'v2', Math.random, app))
    }
    const [listen, preview, admin] = [
      await freePort('127.0.0.1', ports[0]),
      await freePort('127.0.0.1', ports[1]),
      await freePort('127.0.0.1', ports[2]),
    ]
    const upstreamsOf = (i: number) => ({ blue: { targets: [upstreams[2 * i].url] }, green: { targets: [upstreams[2 * i + 1].url] } })
    const config = validateConfig({
      listen: { host: '127.0.0.1', port: listen },
      preview: { host: '127.0.0.1', port: preview },
      admin: { host: '127.0.0.1', port: admin, metricsPublic: true },
      // *.localhost names resolve to 127.0.0.1 (curl, browsers); the default
      // app also answers requests by IP.
      apps: {
        shop: { hosts: ['shop.localhost'], upstreams: upstreamsOf(0) },
        blog: { hosts: ['blog.localhost'], upstreams: upstreamsOf(1) },
      },
      defaultApp: 'shop',
      store: { type: 'file', path: join(dir, 'state.json') },
      overrides: { enabled: true },
      smoke: { checks: [{ path: '/health', expectStatus: 200, bodyIncludes: 'ok', timeoutMs: 2000 }] },
      autoRevert: { enabled: true, maxErrorRate: 0.05, minRequests: 20, windowSeconds: 30, watchSecondsAfterFlip: 120 },
      mirror: { compare: { ignoreJsonFields: ['color', 'version', 'seenColorHeader'], minSamples: 10 } }, // dark launch: only /api/price differs
      shutdownGraceSeconds: 5,
      log: { level: io.env.SWITCHYARD_LOG_LEVEL ?? 'warn' },
    })
    router = await startRouter(config)
  } catch (e) {
    for (const u of upstreams) await u.close()
    io.stderr(`switchyard demo: cannot start: ${describeStartError(e)}\n`)
    return 1
  }
  const [, shopGreen] = upstreams
  const a = router.adminUrl
  const p = new URL(router.proxyUrl).port
  const shop = `http://shop.localhost:${p}`
  const blog = `http://blog.localhost:${p}`
  const pv = new URL(router.previewUrl as string).port
  io.stdout(
    [
      'switchyard demo is running (Ctrl-C to stop)',
      '',
      `  proxy     ${router.proxyUrl}        live traffic; apps by Host: shop.localhost, blog.localhost (default: shop)`,
      `  preview   ${router.previewUrl}        always the idle color of the app (smoke-test it before a flip)`,
      `  admin     ${a}/v1/apps   admin API (metrics at ${a}/metrics)`,
      `  apps      shop: blue ${upstreams[0].url}, green ${upstreams[1].url}; blog: blue ${upstreams[2].url}, green ${upstreams[3].url}`,
      `  state     ${dir} (one file per app)`,
      '',
      'Try:',
      `  curl -s ${shop}/                          # shop, served by blue (curl resolves *.localhost to 127.0.0.1)`,
      `  curl -s ${blog}/                          # blog, served by blue`,
      `  curl -s -H 'Host: blog.localhost' ${router.proxyUrl}/   # the same without *.localhost support`,
      `  curl -s http://shop.localhost:${pv}/                          # preview: shop's idle color (green)`,
      `  npx switchyard apps --admin ${a}                           # every app: hosts, live, canary, version, errors`,
      `  npx switchyard canary 25 --app shop --admin ${a}           # 25% of shop's users to green, sticky by cookie`,
      `  npx switchyard flip --to green --app shop --admin ${a}     # smoke-checks green, then makes it live (blog unchanged)`,
      `  npx switchyard rollback --app shop --admin ${a}`,
      `  npx switchyard cohort set staff --color idle --header x-staff=1 --app blog --admin ${a}`,
      `  curl -s -H 'x-staff: 1' ${blog}/                         # the staff cohort sees blog's idle color`,
      `  curl -s -X PUT '${shopGreen.url}/__demo/error-rate?value=1'   # make shop's green fail, then put a canary on it:`,
      `  npx switchyard canary 50 --force --app shop --admin ${a} && for i in $(seq 60); do curl -s -o /dev/null ${shop}/; done`,
      `  npx switchyard history --app shop --admin ${a}             # auto-revert set the canary back to 0`,
      '',
    ].join('\n'),
  )
  const code = await runUntilSignal(router, io)
  for (const u of upstreams) await u.close()
  return code
}
