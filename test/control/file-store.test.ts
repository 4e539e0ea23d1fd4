import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdir, open, readFile, readdir, rename, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createFileStore } from '../../src/control/store/index.js'
import { entryV, stateV, tempDir } from './helpers.js'

// The cases every store shares (compare-and-set, initialise once, history
// order and cap, corrupt data refused, concurrent commits, per-app isolation)
// are in test/store/contract.ts; these are the file store's own.

t.test('creates the directory; the file holds {state, history}', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'nested', 'deeper', 'state.json')
  const store = createFileStore({ path })
  t.equal(await store.load(), null)
  await store.initialize(stateV(1))
  await store.commit(stateV(2), entryV(2))
  t.same(JSON.parse(await readFile(path, 'utf8')), { state: stateV(2), history: [entryV(2)] })
  await store.close()
})

t.test('a corrupt or unreadable file is an error naming the path', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'state.json')
  await writeFile(path, '{"state": {"version": 3, "live": "gre')
  await t.rejects(createFileStore({ path }).load(), {
    code: 'STORE_UNAVAILABLE',
    message: new RegExp(`state file ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt \\(not JSON`),
  })

  const wrongShape = join(dir, 'shape.json')
  await writeFile(wrongShape, JSON.stringify({ state: { version: 'x' }, history: [] }))
  await t.rejects(createFileStore({ path: wrongShape }).load(), { code: 'STORE_UNAVAILABLE', message: /shape\.json is corrupt \(expected/ })

  // A directory where the file should be: cannot read.
  const isDir = join(dir, 'isdir.json')
  await mkdir(isDir)
  await t.rejects(createFileStore({ path: isDir }).load(), { code: 'STORE_UNAVAILABLE', message: /cannot read/ })
})

t.test('writes are atomic: readers always see a whole file, no temp files stay', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'state.json')
  const store = createFileStore({ path })
  await store.initialize(stateV(1))
  // A large cohort makes each write big enough that a torn write would show.
  const users = Array.from({ length: 20_000 }, (_, i) => `user-${i}`)
  let done = false
  let reads = 0
  const reader = (async () => {
    while (!done) {
      const text = await readFile(path, 'utf8')
      JSON.parse(text) // throws on a torn file, failing the test
      reads++
    }
  })()
  for (let v = 2; v <= 30; v++) {
    await store.commit(stateV(v, { cohorts: [{ name: 'beta', color: 'green', match: { users } }] }), entryV(v))
  }
  done = true
  await reader
  t.ok(reads > 0, 'the reader read while writes happened')
  t.same(await readdir(dir), ['state.json'], 'no temp files left behind')
})

t.test('a failed write changes nothing', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'state.json')
  const store = createFileStore({ path })
  await store.initialize(stateV(1))
  await store.commit(stateV(2), entryV(2))
  // Replace the file by a non-empty directory: the rename onto it fails.
  await rm(path)
  await mkdir(path)
  await writeFile(join(path, 'x'), 'x')
  await t.rejects(store.commit(stateV(3), entryV(3)), { code: 'STORE_UNAVAILABLE', message: /cannot write/ })
  t.same(
    (await store.history(10)).map((e) => e.version),
    [2],
    'memory did not move on',
  )
  t.same((await readdir(dir)).sort(), ['state.json'], 'temp file removed')
  // Once the file can be written again, the next commit follows version 2.
  await rm(path, { recursive: true })
  await store.commit(stateV(3), entryV(3))
  t.equal(JSON.parse(await readFile(path, 'utf8')).state.version, 3)
})

t.test('the first load removes temp files a crashed writer left, and nothing else', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'state.json')
  const first = createFileStore({ path })
  await first.initialize(stateV(1))
  await first.close()
  const orphans = ['.state.json.1.1.tmp', '.state.json.1.2.tmp', `.state.json.${process.pid}.0a1b2c3d4e5f.tmp`]
  const others = ['state.json', '.other.json.1.1.tmp', 'state.json.bak']
  for (const name of [...orphans, ...others.slice(1)]) await writeFile(join(dir, name), 'x')
  const logged: object[] = []
  const store = createFileStore({ path, logger: { info: (o) => void logged.push(o) } })
  t.equal((await store.load())?.version, 1)
  t.same((await readdir(dir)).sort(), others.sort())
  t.match(logged, [{ path, removed: orphans }], 'the removal is logged once')
  await store.commit(stateV(2), entryV(2))
  t.same((await readdir(dir)).sort(), others.sort(), 'no temp file of its own stays')
})

t.test('reachable() is false while the file cannot be written, and recovers', async (t) => {
  const dir = await tempDir(t)
  const folder = join(dir, 'data')
  const path = join(folder, 'state.json')
  // intervalMs 0: every probe() looks at the disk again.
  const store = createFileStore({ path, probe: { intervalMs: 0 } })
  t.teardown(() => store.close())
  await store.initialize(stateV(1))
  await store.probe?.()
  t.equal(store.reachable(), true)
  t.equal(store.unreachableReason?.(), null)

  // Root ignores permission bits; a file where the folder was stops root too.
  await rename(folder, join(dir, 'data.moved'))
  await writeFile(folder, 'not a folder')
  await t.rejects(store.commit(stateV(2), entryV(2)), { code: 'STORE_UNAVAILABLE' })
  t.equal(store.reachable(), false, 'a failed write makes the store not ready at once')
  t.match(store.unreachableReason?.(), new RegExp(`^file store cannot write ${path}: (ENOTDIR|EEXIST)$`))
  await store.probe?.()
  t.equal(store.reachable(), false, 'the probe agrees: still broken')

  await rm(folder)
  await rename(join(dir, 'data.moved'), folder)
  await store.probe?.()
  t.equal(store.reachable(), true, 'a successful probe makes it ready again, without a write')
  t.equal(store.unreachableReason?.(), null)

  // Broken again, with no write at all: the probe alone notices.
  await rename(folder, join(dir, 'data.moved'))
  await writeFile(folder, 'not a folder')
  await store.probe?.()
  t.equal(store.reachable(), false, 'the probe notices without a write')
  await rm(folder)
  await rename(join(dir, 'data.moved'), folder)
  await store.commit(stateV(2), entryV(2))
  t.equal(store.reachable(), true, 'a successful write makes it ready again')
  t.same((await readdir(folder)).sort(), ['state.json'], 'probes leave no files')
})

t.test('probes are rate-limited', async (t) => {
  const dir = await tempDir(t)
  const folder = join(dir, 'data')
  const store = createFileStore({ path: join(folder, 'state.json'), probe: { intervalMs: 60_000 } })
  t.teardown(() => store.close())
  await store.initialize(stateV(1))
  await store.probe?.()
  await rename(folder, join(dir, 'data.moved'))
  await writeFile(folder, 'not a folder')
  await store.probe?.()
  t.equal(store.reachable(), true, 'within the interval the last answer stands')
  await rm(folder)
  await rename(join(dir, 'data.moved'), folder)
})

t.test('a really full disk (a small tmpfs; skipped where mounting is not allowed)', async (t) => {
  const dir = await tempDir(t)
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', dir], { stdio: 'ignore' })
  if (mounted.error !== undefined || mounted.status !== 0) {
    t.plan(0, 'cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)')
    return
  }
  t.teardown(() => void spawnSync('umount', [dir], { stdio: 'ignore' }))
  const path = join(dir, 'state.json')
  const store = createFileStore({ path, probe: { intervalMs: 0 } })
  t.teardown(() => store.close())
  await store.initialize(stateV(1))
  // A state of ~100 KB, and a disk left with less than that but more than a
  // tiny probe needs: the probe must write as much as the state takes.
  const users = Array.from({ length: 8_000 }, (_, i) => `user-${i}`)
  const big = stateV(2, { cohorts: [{ name: 'beta', color: 'green', match: { users } }] })
  t.ok(JSON.stringify(big).length > 90_000)
  const filler = join(dir, 'filler')
  const chunk = Buffer.alloc(4096, 1)
  const fh = await open(filler, 'w')
  try {
    for (;;) await fh.write(chunk)
  } catch (e) {
    t.equal((e as NodeJS.ErrnoException).code, 'ENOSPC', 'the disk is full')
  } finally {
    await fh.close()
  }
  await truncate(filler, (await stat(filler)).size - 32 * 1024)
  await t.rejects(store.commit(big, entryV(2)), { code: 'STORE_UNAVAILABLE', message: /ENOSPC/ })
  t.equal(store.reachable(), false)
  t.match(store.unreachableReason?.(), /cannot write .*: ENOSPC$/)
  await store.probe?.()
  t.equal(store.reachable(), false, 'a probe as big as the state still does not fit')
  await rm(filler)
  await store.probe?.()
  t.equal(store.reachable(), true, 'space freed: ready again')
  await store.commit(big, entryV(2))
  await store.close()
})
