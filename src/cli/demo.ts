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

/**
 * `switchyard demo`: two demo upstreams, a router in front with a file store
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
    upstreams.push(await startDemoUpstream('blue', 'v1'), await startDemoUpstream('green', 'v2'))
    const [listen, preview, admin] = [
      await freePort('127.0.0.1', ports[0]),
      await freePort('127.0.0.1', ports[1]),
      await freePort('127.0.0.1', ports[2]),
    ]
    const config = validateConfig({
      listen: { host: '127.0.0.1', port: listen },
      preview: { host: '127.0.0.1', port: preview },
      admin: { host: '127.0.0.1', port: admin, metricsPublic: true },
      upstreams: { blue: { targets: [upstreams[0].url] }, green: { targets: [upstreams[1].url] } },
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
  const [blue, green] = upstreams
  const a = router.adminUrl
  io.stdout(
    [
      'switchyard demo is running (Ctrl-C to stop)',
      '',
      `  proxy     ${router.proxyUrl}        live traffic`,
      `  preview   ${router.previewUrl}        always the idle color (smoke-test it before a flip)`,
      `  admin     ${a}/v1/state   admin API (metrics at ${a}/metrics)`,
      `  blue app  ${blue.url}   green app  ${green.url}`,
      `  state     ${join(dir, 'state.json')}`,
      '',
      'Try:',
      `  curl -s ${router.proxyUrl}/                                  # served by blue`,
      `  curl -s ${router.previewUrl}/                                  # served by green (idle)`,
      `  npx switchyard status --admin ${a}`,
      `  npx switchyard canary 25 --admin ${a}                   # 25% of users to green, sticky by cookie`,
      `  npx switchyard flip --admin ${a}                        # smoke-checks green, then makes it live`,
      `  npx switchyard rollback --admin ${a}`,
      `  npx switchyard cohort set staff --color idle --header x-staff=1 --admin ${a}`,
      `  curl -s -H 'x-staff: 1' ${router.proxyUrl}/                  # the staff cohort sees the idle color`,
      `  curl -s -X PUT '${green.url}/__demo/error-rate?value=1'   # make green fail, then put a canary on it:`,
      `  npx switchyard canary 50 --force --admin ${a} && for i in $(seq 60); do curl -s -o /dev/null ${router.proxyUrl}/; done`,
      `  npx switchyard history --admin ${a}                     # auto-revert set the canary back to 0`,
      '',
    ].join('\n'),
  )
  const code = await runUntilSignal(router, io)
  for (const u of upstreams) await u.close()
  return code
}
