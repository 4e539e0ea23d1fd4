import t from 'tap'
import { spawnSync } from 'node:child_process'
import { main } from '../../src/cli/index.js'
import { CLIENT_COMMANDS } from '../../src/cli/client.js'
import { CLIENT_SPECS, didYouMean } from '../../src/cli/commands.js'
import { bashCompletion, zshCompletion } from '../../src/cli/completion.js'
import { printable } from '../../src/cli/client-format.js'

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let out = ''
  let err = ''
  const code = await main(argv, { env, stdout: (s) => void (out += s), stderr: (s) => void (err += s) })
  return { code, out, err }
}

t.test('the catalogue has every client command, and the usage lists them', async (t) => {
  t.same(
    CLIENT_SPECS.map((c) => c.name),
    [...CLIENT_COMMANDS],
  )
  const h = await run(['--help'])
  for (const c of ['apps', 'reload', 'completion']) t.match(h.out, `switchyard ${c}`)
  t.match(h.out, /--app NAME \(or SWITCHYARD_APP\)/)
  t.match(h.out, /3 unauthorized, 4 router unreachable/)
})

t.test('per-command help: `<command> --help` and `help <command>`', async (t) => {
  for (const c of CLIENT_COMMANDS) {
    const a = await run([c, '--help'])
    t.equal(a.code, 0, `${c} --help`)
    t.match(a.out, new RegExp(`^usage: switchyard ${c}\\b`), `${c}: its usage first`)
    t.same(await run(['help', c]), a, `help ${c} is the same`)
  }
  const flip = await run(['flip', '--help'])
  t.notMatch(flip.out, /canary/, 'only that command')
  t.match(flip.out, /--wait/)
  t.notMatch((await run(['status', '--help'])).out, /--wait/, 'reads do not offer --wait')
  t.match((await run(['help', 'serve'])).out, /^usage: switchyard serve --config <file>/)
  const unknown = await run(['help', 'flp'])
  t.equal(unknown.code, 2)
  t.match(unknown.err, /unknown command "flp" \(did you mean "flip"\?\)/)
})

t.test('unknown commands and subcommands: exit 2 with a guess when there is a close one', async (t) => {
  const cases: [string[], RegExp][] = [
    [['flp'], /unknown command "flp" \(did you mean "flip"\?\)/],
    [['stauts'], /did you mean "status"\?/],
    [['rolback'], /did you mean "rollback"\?/],
    [['serv'], /did you mean "serve"\?/],
    [['instance'], /did you mean "instances"\?/],
    [['xyzzy'], /^usage error: unknown command "xyzzy"\n/],
    [['cohort', 'sett', 'x'], /cohort: unknown subcommand "sett" \(did you mean "set"\?\)/],
    [['rollout', 'paus'], /rollout: unknown subcommand "paus" \(did you mean "pause"\?\)/],
  ]
  for (const [argv, message] of cases) {
    const r = await run(argv, { SWITCHYARD_ADMIN_URL: 'http://127.0.0.1:1' })
    t.equal(r.code, 2, argv.join(' '))
    t.match(r.err, message, argv.join(' '))
  }
  t.equal(didYouMean('zz', ['flip', 'status']), null)
})

function bashComplete(line: string[]): string[] {
  const script = `${bashCompletion()}\nCOMP_WORDS=(${line.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${line.length - 1}; _switchyard; printf '%s\\n' "\${COMPREPLY[@]}"`
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { encoding: 'utf8', timeout: 10_000 })
  if (r.status !== 0) throw new Error(r.stderr)
  return r.stdout.split('\n').filter((x) => x !== '')
}

t.test(
  'completion bash: commands, subcommands, options and colors complete',
  { skip: spawnSync('bash', ['-c', 'true']).status !== 0 && 'no bash' },
  async (t) => {
    t.same(bashComplete(['switchyard', 'fl']), ['flip'])
    t.same(bashComplete(['switchyard', 're']).sort(), ['reload'])
    t.same(bashComplete(['switchyard', 'cohort', '']).slice(0, 3), ['set', 'rm', 'ls'])
    t.same(bashComplete(['switchyard', 'flip', '--t']), ['--to'])
    t.same(bashComplete(['switchyard', 'flip', '--to', '']), ['blue', 'green'])
    t.same(bashComplete(['switchyard', 'canary', '10', '--wa']).sort(), ['--wait', '--wait-timeout'])
    t.same(bashComplete(['switchyard', 'status', '--a']).sort(), ['--admin', '--app'])
    t.same(bashComplete(['switchyard', 'completion', '']).slice(0, 2), ['bash', 'zsh'])
    const r = await run(['completion', 'bash'])
    t.equal(r.code, 0)
    t.equal(r.out, bashCompletion())
  },
)

t.test('completion zsh: a compdef script; unknown shells are a usage error', async (t) => {
  const z = await run(['completion', 'zsh'])
  t.equal(z.code, 0)
  t.equal(z.out, zshCompletion())
  t.match(z.out, /^#compdef switchyard\n/)
  t.match(z.out, /'flip:make a color live/)
  t.match(z.out, /flip\) opts=\(--to --force --reason --if-match --wait --wait-timeout --admin --app --json --help\)/)
  const zsh = spawnSync('zsh', ['-n', '-c', z.out], { encoding: 'utf8' })
  if (zsh.error === undefined) t.equal(zsh.status, 0, `zsh parses it: ${zsh.stderr}`)
  const fish = await run(['completion', 'fish'])
  t.equal(fish.code, 2)
  t.match(fish.err, /completion <shell> must be one of bash, zsh/)
  t.equal((await run(['completion'])).code, 2)
})

t.test('printable escapes control characters and bidi overrides, nothing else', async (t) => {
  t.equal(printable('ok café ✓'), 'ok café ✓')
  t.equal(printable('a\u001b[31mb\u0007\u009b\u202ec\td\r\n'), 'a\\x1b[31mb\\x07\\x9b\\u202ec\\td\\r\\n')
})
