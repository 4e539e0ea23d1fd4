import t from 'tap'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { StateCache } from '../../src/control/state-cache.js'
import { stateV } from '../helpers/state.js'

t.test('writes the newest state atomically, reads it back', async (t) => {
  const dir = t.testdir({})
  const path = join(dir, 'sub', 'state.json')
  const warnings: unknown[] = []
  const cache = new StateCache(path, { warn: (o) => void warnings.push(o) })
  t.equal(await cache.read(), null, 'nothing cached yet')
  for (let v = 1; v <= 20; v++) cache.write(stateV(v, { live: v % 2 === 0 ? 'green' : 'blue' }))
  await cache.flushed()
  t.same(await cache.read(), stateV(20, { live: 'green' }), 'the newest of a burst is what stays')
  t.same(warnings, [], 'no warnings')
})

t.test('an unreadable or foreign file is ignored with a warning', async (t) => {
  const dir = t.testdir({ 'bad.json': '{"version":', 'other.json': '{"hello":1}' })
  const warnings: unknown[] = []
  const logger = { warn: (o: object) => void warnings.push(o) }
  t.equal(await new StateCache(join(dir, 'bad.json'), logger).read(), null)
  t.equal(await new StateCache(join(dir, 'other.json'), logger).read(), null)
  t.equal(warnings.length, 2)
})

t.test('a failed write is logged and does not throw', async (t) => {
  const dir = t.testdir({})
  const blocker = join(dir, 'file')
  writeFileSync(blocker, 'x')
  const warnings: unknown[] = []
  const cache = new StateCache(join(blocker, 'state.json'), { warn: (o) => void warnings.push(o) })
  cache.write(stateV(3))
  await cache.flushed()
  t.equal(warnings.length, 1, 'the failure is reported')
  t.equal(readFileSync(blocker, 'utf8'), 'x')
})

t.test('the first write removes temp files a crashed writer left, and nothing else', async (t) => {
  const dir = t.testdir({
    '.cache.json.1.1.tmp': 'orphan',
    '.cache.json.1.2.tmp': 'orphan',
    '.other.json.1.1.tmp': 'keep',
    'cache.json.bak': 'keep',
  })
  const infos: object[] = []
  const cache = new StateCache(join(dir, 'cache.json'), { warn: () => undefined, info: (o) => void infos.push(o) })
  cache.write(stateV(1))
  await cache.flushed()
  t.same(readdirSync(dir).sort(), ['.other.json.1.1.tmp', 'cache.json', 'cache.json.bak'])
  t.match(infos, [{ removed: ['.cache.json.1.1.tmp', '.cache.json.1.2.tmp'] }])
})
