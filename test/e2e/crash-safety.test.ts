import t from 'tap'
import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { admin, baseConfig, startRouterProcess, writeConfig } from './router-process.js'
import { startColorServer } from './upstreams.js'
import { waitFor } from './watch-helpers.js'

// After a crash: temp files the dead process left behind must neither block
// the next process's writes (in a container the router is PID 1 every time,
// so a pid+counter name repeats) nor pile up.

/** The names a writer with `pid` and a per-process counter would use. */
function counterNames(pid: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `.state.json.${pid}.${i + 1}.tmp`)
}

t.test('orphaned temp files: removed at start, and never in the way of a write', async (t) => {
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(() => Promise.all([blue.close(), green.close()]))
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const cfg = writeConfig(baseConfig(dir, [blue.url], [green.url]), dir)

  const first = await startRouterProcess(cfg)
  t.teardown(() => first.stop('SIGKILL'))
  t.equal((await admin(first.adminUrl, 'POST', '/v1/flip', { reason: 'one' })).status, 200)
  t.equal(await first.stop('SIGKILL'), null, 'crashed (SIGKILL)')

  // What the crash left, and files that are not the store's temp files.
  const orphans = [...counterNames(first.child.pid!, 3), '.state.json.1.7.tmp', '.state.json.1.0a1b2c3d4e5f.tmp']
  const others = ['state.json', 'config.json', 'state.json.bak', '.state.json.tmp', '.other.json.1.1.tmp', 'notes.txt']
  for (const name of [...orphans, ...others.slice(2)]) writeFileSync(join(dir, name), 'left behind')

  const second = await startRouterProcess(cfg)
  t.teardown(() => second.stop('SIGKILL'))
  t.same(readdirSync(dir).sort(), others.sort(), 'the orphans are gone, every other file is still there')
  const removal = second.logs.find((l) => l.msg === 'removed temp files left by a crashed writer')
  t.same(((removal?.removed as string[] | undefined) ?? []).sort(), orphans.sort(), 'the removal is logged')

  // PID reuse: orphans named exactly like this process's next temp files.
  const planted = counterNames(second.child.pid!, 50)
  for (const name of planted) writeFileSync(join(dir, name), 'left behind')
  const flip = await admin(second.adminUrl, 'POST', '/v1/flip', { reason: 'two' })
  t.equal(flip.status, 200, `a write with orphans named like its own temp files succeeds (${JSON.stringify(flip.json)})`)
  const back = await admin(second.adminUrl, 'POST', '/v1/rollback', {})
  t.equal(back.status, 200, 'and the next one too')
  t.equal(await second.stop(), 0)
  t.same(readdirSync(dir).sort(), [...others, ...planted].sort(), 'the writer left no temp file of its own')

  const third = await startRouterProcess(cfg)
  t.teardown(() => third.stop('SIGKILL'))
  t.same(readdirSync(dir).sort(), others.sort(), 'the next start removes those too')
  const state = await admin(third.adminUrl, 'GET', '/v1/state')
  t.equal(state.json.version, back.json.state.version, 'every write was stored')
  t.equal(state.json.live, 'green')
  t.equal(await third.stop(), 0)
})

t.test('a store that cannot take writes: /readyz 503 with the reason, /healthz and routing go on, recovery by itself', async (t) => {
  const blue = await startColorServer('blue')
  const green = await startColorServer('green')
  t.teardown(() => Promise.all([blue.close(), green.close()]))
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))
  const data = join(dir, 'data')
  const path = join(data, 'state.json')
  const cfg = writeConfig({ ...baseConfig(dir, [blue.url], [green.url]), store: { type: 'file', path } }, dir)
  const router = await startRouterProcess(cfg)
  t.teardown(() => router.stop('SIGKILL'))
  t.equal((await admin(router.adminUrl, 'GET', '/readyz')).status, 200, 'ready after start')

  // Tests run as root, which ignores permission bits and read-only modes of
  // files: instead the state folder turns into a regular file, which stops
  // root's writes just like a read-only or full disk stops anyone's.
  renameSync(data, join(dir, 'data.moved'))
  writeFileSync(data, 'not a folder')
  const notReady = await waitFor(
    '/readyz 503',
    async () => {
      const r = await admin(router.adminUrl, 'GET', '/readyz')
      return r.status === 503 ? r : undefined
    },
    10_000,
  )
  t.match(
    notReady.json,
    { ready: false, reasons: [new RegExp(`^file store cannot write ${path}: (ENOTDIR|EEXIST)$`)] },
    'names the path and the error',
  )
  const flip = await admin(router.adminUrl, 'POST', '/v1/flip', {})
  t.equal(flip.status, 503)
  t.equal(flip.json.error.code, 'STORE_UNAVAILABLE')
  t.equal((await admin(router.adminUrl, 'GET', '/healthz')).status, 200, '/healthz stays up')
  t.equal((await (await fetch(router.proxyUrl)).json()).color, 'blue', 'routing goes on')
  t.equal((await admin(router.adminUrl, 'GET', '/readyz')).status, 503, 'still not ready')

  rmSync(data)
  renameSync(join(dir, 'data.moved'), data)
  await waitFor('/readyz 200 again', async () => (await admin(router.adminUrl, 'GET', '/readyz')).status === 200, 10_000)
  t.pass('ready again once the disk takes writes, without a write')
  const again = await admin(router.adminUrl, 'POST', '/v1/flip', {})
  t.equal(again.status, 200, 'writes work again')
  t.equal((await (await fetch(router.proxyUrl)).json()).color, 'green')
  t.same(readdirSync(data), ['state.json'], 'probes leave no files')
  t.equal(await router.stop(), 0)
})
