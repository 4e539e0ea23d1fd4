import t from 'tap'
import { readFileSync } from 'node:fs'
import { main } from '../../src/cli/index.js'
import { CLIENT_COMMANDS } from '../../src/cli/client.js'

async function run(argv: string[]) {
  let out = ''
  let err = ''
  const code = await main(argv, { env: {}, stdout: (s) => void (out += s), stderr: (s) => void (err += s) })
  return { code, out, err }
}

t.test('--help lists serve, demo and every operator command', async (t) => {
  const h = await run(['--help'])
  t.equal(h.code, 0)
  for (const c of ['serve', 'demo', ...CLIENT_COMMANDS]) t.match(h.out, `switchyard ${c}`, c)
  const none = await run([])
  t.equal(none.code, 2, 'no command is a usage error')
  t.equal(none.out, h.out, 'and prints the same usage')
})

t.test('--version prints the package version', async (t) => {
  const v = await run(['--version'])
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  t.same(v, { code: 0, out: `${pkg.version}\n`, err: '' })
})

t.test('serve without a config exits 2 with a message, no stack', async (t) => {
  const r = await run(['serve'])
  t.equal(r.code, 2)
  t.match(r.err, /--config: required/)
  t.notMatch(r.err, /\n\s+at /)
  const bad = await run(['serve', '--bogus'])
  t.equal(bad.code, 2)
  t.match(bad.err, /usage: switchyard serve --config <file>/)
})
