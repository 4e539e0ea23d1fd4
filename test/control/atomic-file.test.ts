import t from 'tap'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { probeWritable, removeStaleTempFiles, tempPathFor, writeFileAtomic } from '../../src/control/store/atomic-file.js'
import { tempDir } from './helpers.js'

t.test('orphans named like this process would name its temp files do not block a write', async (t) => {
  // A restarted container is PID 1 again: its predecessor's orphans carry
  // the same pid, and with a per-process counter the same names.
  const dir = await tempDir(t)
  const path = join(dir, 'state.json')
  for (let n = 1; n <= 200; n++) await writeFile(join(dir, `.state.json.${process.pid}.${n}.tmp`), 'orphan')
  for (let i = 0; i < 5; i++) await writeFileAtomic(path, `{"n":${i}}`, true)
  t.equal(await readFile(path, 'utf8'), '{"n":4}')
  t.equal((await readdir(dir)).length, 201, 'the writer left no temp file of its own')
})

t.test('temp names: same folder, pid, random suffix', async (t) => {
  const a = tempPathFor('/x/y/state.json')
  const b = tempPathFor('/x/y/state.json')
  t.equal(dirname(a), '/x/y')
  t.match(basename(a), new RegExp(`^\\.state\\.json\\.${process.pid}\\.[0-9a-f]{12}\\.tmp$`))
  t.not(a, b)
})

t.test('removeStaleTempFiles removes only the temp files of that file', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'state.json')
  const ours = [
    '.state.json.1.1.tmp', // an older version's pid.counter
    '.state.json.1.2.tmp',
    '.state.json.4242.17.tmp',
    basename(tempPathFor(path)), // this version's pid.random
  ]
  const others = [
    'state.json',
    'state.json.bak',
    '.state.json.tmp',
    '.state.json.1.tmp',
    '.state.json.1.1.tmp.keep',
    '.state.json.x.1.tmp',
    '.state.json.1.xyz.tmp',
    '.other.json.1.1.tmp',
    '.stateXjson.1.1.tmp',
    'a.state.json.1.1.tmp',
    'notes.txt',
  ]
  for (const name of [...ours, ...others]) await writeFile(join(dir, name), 'x')
  // A folder that matches is not ours to force.
  await mkdir(join(dir, '.state.json.9.9.tmp'))
  const removed = await removeStaleTempFiles(path)
  t.same(removed.sort(), [...ours].sort())
  t.same((await readdir(dir)).sort(), [...others, '.state.json.9.9.tmp'].sort(), 'everything else is untouched')
  t.same(await removeStaleTempFiles(join(dir, 'missing', 'state.json')), [], 'a missing folder is nothing to clean')
})

t.test('probeWritable leaves nothing behind and throws the file system error', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'sub', 'state.json')
  await probeWritable(path, 100_000)
  t.same(await readdir(join(dir, 'sub')), [], 'the folder is created like a write would, the probe file removed')
  await writeFile(join(dir, 'file'), 'x')
  await t.rejects(probeWritable(join(dir, 'file', 'state.json'), 10), { code: /^(ENOTDIR|EEXIST)$/ })
})
