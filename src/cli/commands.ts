/**
 * The catalogue of `switchyard` commands: names, usage lines, one-line
 * summaries, options and subcommands. Usage text, per-command `--help`,
 * "did you mean" and the shell completions are all made from it, so they
 * cannot disagree. Pure data and string work: the CLI imports it on every
 * start, so it must not import anything heavy.
 */

export interface CommandSpec {
  name: string
  /** usage lines, without the leading `switchyard ` */
  usage: string[]
  summary: string
  /** options the command accepts, besides the global ones */
  options: string[]
  /** words that may follow the command (subcommands, colors) */
  words?: string[]
  /** the command changes state: it takes --wait and --app */
  write?: boolean
}

const WRITE_OPTIONS = ['--reason', '--if-match', '--wait', '--wait-timeout']

/** The commands `runClient` handles; the `switchyard` dispatcher sends these there. */
export const CLIENT_COMMANDS = [
  'status',
  'flip',
  'rollback',
  'canary',
  'cohort',
  'history',
  'smoke',
  'explain',
  'rollout',
  'mirror',
  'shadow',
  'health',
  'instances',
  'apps',
  'reload',
  'completion',
] as const

export type ClientCommand = (typeof CLIENT_COMMANDS)[number]

/** The operator commands (the admin API's client), in the order the usage shows them. */
export const CLIENT_SPECS: readonly (CommandSpec & { name: ClientCommand })[] = [
  { name: 'status', usage: ['status'], summary: 'the live color, canary, version, cohorts and rollout', options: [] },
  {
    name: 'flip',
    usage: ['flip [--to blue|green] [--force] [--reason R] [--if-match V] [--wait]'],
    summary: 'make a color live (default: the idle one) after its smoke checks; use --to in pipelines (idempotent)',
    options: ['--to', '--force', ...WRITE_OPTIONS],
    write: true,
  },
  {
    name: 'rollback',
    usage: ['rollback [--reason R] [--if-match V] [--wait]'],
    summary: 'make the previous live color live again',
    options: WRITE_OPTIONS,
    write: true,
  },
  {
    name: 'canary',
    usage: ['canary <percent> [--force] [--reason R] [--if-match V] [--wait]'],
    summary: 'send this share of users (0-100, two decimals) to the idle color',
    options: ['--force', ...WRITE_OPTIONS],
    write: true,
  },
  {
    name: 'cohort',
    usage: [
      'cohort set <name> --color blue|green|idle|live [--header k=v]... [--cookie k=v]...',
      '                  [--users a,b,c] [--users-file F] [--percent P] [--reason R] [--wait]',
      'cohort rm <name> [--if-match V] [--wait]',
      'cohort ls',
    ],
    summary: 'cohort rules: who sees which color, tried in order',
    options: ['--color', '--header', '--cookie', '--users', '--users-file', '--percent', ...WRITE_OPTIONS],
    words: ['set', 'rm', 'ls'],
    write: true,
  },
  { name: 'history', usage: ['history [--limit N]'], summary: 'the changes, newest first (N from 1 to 10000)', options: ['--limit'] },
  {
    name: 'smoke',
    usage: ['smoke [blue|green]'],
    summary: 'run the smoke checks now (default: the idle color)',
    options: [],
    words: ['blue', 'green'],
  },
  {
    name: 'explain',
    usage: ['explain [--header k=v]... [--cookie k=v]... [--path P] [--method M]'],
    summary: 'which color a request would get, and why (and its chance of a dark-launch copy)',
    options: ['--header', '--cookie', '--path', '--method'],
  },
  {
    name: 'rollout',
    usage: [
      'rollout start --steps 10:60,50:60,100:60 [--auto-promote | --no-auto-promote] [--wait]',
      'rollout pause|resume|abort|promote|status',
    ],
    summary: 'a progressive canary that advances while healthy',
    options: ['--steps', '--auto-promote', '--no-auto-promote', ...WRITE_OPTIONS],
    words: ['start', 'pause', 'resume', 'abort', 'promote', 'status'],
    write: true,
  },
  {
    name: 'mirror',
    usage: ['mirror <percent> [--reason R] [--if-match V] [--wait]'],
    summary: 'dark launch: copy this share (0-100) of live-routed requests to the idle color and compare its answers',
    options: WRITE_OPTIONS,
    write: true,
  },
  {
    name: 'shadow',
    usage: ['shadow', 'shadow reset'],
    summary: "the shadow diff: how the idle color's answers compare (counts, rate by route, recent diffs)",
    options: [],
    words: ['reset'],
  },
  { name: 'health', usage: ['health'], summary: 'per color: targets up or down, requests, errors, error rate', options: [] },
  { name: 'instances', usage: ['instances'], summary: 'every router instance and the state version it applied', options: [] },
  { name: 'apps', usage: ['apps'], summary: 'every app: hosts, live color, canary, version, error rates, rollout', options: [] },
  { name: 'reload', usage: ['reload'], summary: 're-read the config file without a restart (what changed, what needs one)', options: [] },
  { name: 'completion', usage: ['completion bash|zsh'], summary: 'print a shell completion script', options: [], words: ['bash', 'zsh'] },
]

/** `serve` and `demo`, handled by the dispatcher itself. */
export const SERVER_SPECS: readonly CommandSpec[] = [
  { name: 'serve', usage: ['serve --config <file>'], summary: 'run the router (SWITCHYARD_CONFIG also works)', options: ['--config'] },
  { name: 'demo', usage: ['demo'], summary: 'two demo apps and a router, nothing else needed', options: [] },
]

export const GLOBAL_OPTIONS = ['--admin', '--app', '--json', '--help']

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9901'

/** The client's usage text: commands, global options, environment, exit codes. */
export const CLIENT_USAGE = `operator commands (talk to the admin API):
${CLIENT_SPECS.flatMap((c) => c.usage.map((u) => `  switchyard ${u}`)).join('\n')}
global: --admin URL (default ${DEFAULT_ADMIN_URL}, or SWITCHYARD_ADMIN_URL)
        --app NAME (or SWITCHYARD_APP): the app to address when the router serves several
        --json: print every outcome as JSON on stdout, failures included
writes: --wait: return once every router instance applied the change
        --wait-timeout S (default 30; implies --wait)
token: SWITCHYARD_ADMIN_TOKEN (sent as a bearer token)
exit codes: 0 done (also when nothing changed), 1 refused by the router, 2 usage error,
            3 unauthorized, 4 router unreachable or failing (5xx, store unavailable, --wait timed out)
help: switchyard <command> --help
`

/** The whole usage of `switchyard`. */
export const USAGE = `switchyard — blue-green and canary router

usage:
${SERVER_SPECS.map((c) => `  switchyard ${c.usage[0].padEnd(36)}${c.summary}`).join('\n')}

${CLIENT_USAGE}`

/** Every command name the dispatcher knows. */
export const ALL_COMMANDS: readonly string[] = [...SERVER_SPECS, ...CLIENT_SPECS].map((c) => c.name).concat('help')

export function specOf(name: string): CommandSpec | undefined {
  return [...CLIENT_SPECS, ...SERVER_SPECS].find((c) => c.name === name)
}

/** `switchyard <command> --help`. */
export function commandHelp(spec: CommandSpec): string {
  const lines = spec.usage.map((u, i) => `${i === 0 ? 'usage: ' : '       '}switchyard ${u}`)
  let out = `${lines.join('\n')}\n\n${spec.summary}\n`
  if ((CLIENT_COMMANDS as readonly string[]).includes(spec.name)) {
    out += `\nglobal: --admin URL, --app NAME (or SWITCHYARD_APP), --json`
    out += spec.write === true ? `\nwrites: --wait [--wait-timeout S]: return once every instance applied the change\n` : '\n'
  }
  return out
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps). */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/** The closest of `names` to `word` when it is close enough to be a slip, else null. */
export function didYouMean(word: string, names: readonly string[]): string | null {
  const w = word.toLowerCase()
  let best: string | null = null
  let bestD = Infinity
  for (const n of names) {
    const dd = n.startsWith(w) && w.length >= 2 ? 0.5 : distance(w, n)
    if (dd < bestD) {
      best = n
      bestD = dd
    }
  }
  return best !== null && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : null
}

/** `unknown command "flp" (did you mean "flip"?)` */
export function unknownCommand(word: string, names: readonly string[] = ALL_COMMANDS, what = 'command'): string {
  const guess = didYouMean(word, names)
  return `unknown ${what} "${word}"${guess === null ? '' : ` (did you mean "${guess}"?)`}`
}
