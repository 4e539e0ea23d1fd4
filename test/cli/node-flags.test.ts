import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { APPLIED_ENV, DEFAULT_NODE_FLAGS, routerNodeFlags } from '../../src/cli/node-flags.js'
import { CLEAN_ENV, baseConfig, startRouterProcess, writeConfig } from '../e2e/router-process.js'

const cases: { name: string; argv: string[]; execArgv?: string[]; env?: Record<string, string>; want: string[] | null }[] = [
  { name: 'serve gets the defaults', argv: ['serve', '--config', 'x.yaml'], want: [...DEFAULT_NODE_FLAGS] },
  { name: 'demo runs a router too', argv: ['demo'], want: [...DEFAULT_NODE_FLAGS] },
  { name: 'a client command is not re-executed', argv: ['flip', 'green'], want: null },
  { name: '--version neither', argv: ['--version'], want: null },
  { name: 'no command', argv: [], want: null },
  { name: 'never twice', argv: ['serve'], env: { [APPLIED_ENV]: '--max-semi-space-size=4' }, want: null },
  { name: 'the operator’s node flag wins', argv: ['serve'], execArgv: ['--max-semi-space-size=32'], want: null },
  { name: '… also in NODE_OPTIONS', argv: ['serve'], env: { NODE_OPTIONS: '--import x.js --max-semi-space-size=16' }, want: null },
  { name: '… also with underscores', argv: ['serve'], env: { NODE_OPTIONS: '--max_semi_space_size=16' }, want: null },
  { name: 'SWITCHYARD_NODE_FLAGS= turns it off', argv: ['serve'], env: { SWITCHYARD_NODE_FLAGS: '' }, want: null },
  {
    name: '… or replaces the list',
    argv: ['serve'],
    env: { SWITCHYARD_NODE_FLAGS: ' --max-semi-space-size=8  --expose-gc ' },
    want: ['--max-semi-space-size=8', '--expose-gc'],
  },
  {
    name: 'only the flags not given already',
    argv: ['serve'],
    execArgv: ['--expose-gc'],
    env: { SWITCHYARD_NODE_FLAGS: '--max-semi-space-size=8 --expose-gc' },
    want: ['--max-semi-space-size=8'],
  },
]

t.test('routerNodeFlags', async (t) => {
  for (const c of cases) t.same(routerNodeFlags({ argv: c.argv, execArgv: c.execArgv ?? [], env: c.env ?? {} }), c.want, c.name)
})

/** The node arguments a running process was started (or re-executed) with. */
function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    .split('\0')
    .filter((a) => a !== '')
}

t.test(
  'the bin re-executes a router with the flags, in the same process',
  { skip: process.platform !== 'linux' && 'reads /proc' },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-flags-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const config = writeConfig(baseConfig(dir, ['http://127.0.0.1:9'], ['http://127.0.0.1:9']), dir)
    for (const [env, want] of [
      [{}, DEFAULT_NODE_FLAGS[0]],
      [{ SWITCHYARD_NODE_FLAGS: '--max-semi-space-size=16' }, '--max-semi-space-size=16'],
      [{ SWITCHYARD_NODE_FLAGS: '' }, null],
    ] as const) {
      const r = await startRouterProcess(config, { ...CLEAN_ENV, ...env })
      const args = cmdline(r.child.pid as number)
      const semi = args.filter((a) => a.startsWith('--max-semi-space-size'))
      t.same(semi, want === null ? [] : [want], `${JSON.stringify(env)}: ${args.join(' ')}`)
      t.equal(await r.stop(), 0, 'the re-executed router drains and exits 0 on SIGTERM sent to the pid its parent knows')
    }
  },
)
