/**
 * The V8 settings a router process runs with: the young generation's size.
 * Node 24 lets each semi-space grow to 64 MiB; a proxy's garbage is
 * short-lived request objects and body chunks, which a few MiB collect as
 * well. Measured (docs/performance.md, "Memory"): 8 MiB costs no more CPU
 * than 16–32 (4 MiB: ~4% more) and, unlike them, keeps body chunks (whose
 * memory outside the heap is freed only when a scavenge collects them) from
 * piling up: 40–60 MiB lower after body-heavy load. Larger sizes win only
 * past ~1,000 small requests in flight at once, where their objects no
 * longer fit in 8 MiB and get promoted; docs/operations.md tells an
 * operator with that load to set 32. V8 reads the size only when the
 * process starts, so `bin/switchyard.js` re-executes itself with these
 * flags (`process.execve`: same pid, same stdio and signals, nothing left
 * behind) before it loads anything.
 *
 * The operator decides: a flag already given to node (on the command line or
 * in `NODE_OPTIONS`) wins, and `SWITCHYARD_NODE_FLAGS` replaces the list
 * (`SWITCHYARD_NODE_FLAGS=` for none: no re-exec).
 *
 * This file is loaded by the bin before anything else: no imports.
 */

/** What a router runs with unless told otherwise. */
export const DEFAULT_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=8'])

/** Set in the re-executed process: never re-execute twice. */
export const APPLIED_ENV = 'SWITCHYARD_NODE_FLAGS_APPLIED'

/** The commands that run a router (the operator commands are short-lived clients). */
const ROUTER_COMMANDS = new Set(['serve', 'demo'])

/** `--max-semi-space-size=8` → `--max-semi-space-size`; V8 also accepts underscores. */
function flagName(flag: string): string {
  const i = flag.indexOf('=')
  return (i < 0 ? flag : flag.slice(0, i)).replace(/_/g, '-')
}

/**
 * The flags to re-execute with, or null to run as is.
 *
 * @example
 * routerNodeFlags({ argv: ['serve'], execArgv: [], env: {} }) // ['--max-semi-space-size=8']
 * routerNodeFlags({ argv: ['serve'], execArgv: [], env: { NODE_OPTIONS: '--max-semi-space-size=16' } }) // null
 * routerNodeFlags({ argv: ['serve'], execArgv: [], env: { SWITCHYARD_NODE_FLAGS: '' } }) // null
 */
export function routerNodeFlags(o: {
  argv: readonly string[]
  execArgv: readonly string[]
  env: Record<string, string | undefined>
}): string[] | null {
  if (!ROUTER_COMMANDS.has(o.argv[0] ?? '') || o.env[APPLIED_ENV] !== undefined) return null
  const wanted = o.env.SWITCHYARD_NODE_FLAGS?.split(/\s+/).filter((f) => f !== '') ?? DEFAULT_NODE_FLAGS
  const given = new Set([...o.execArgv, ...(o.env.NODE_OPTIONS ?? '').split(/\s+/)].filter((f) => f.startsWith('--')).map(flagName))
  const flags = wanted.filter((f) => !given.has(flagName(f)))
  return flags.length === 0 ? null : flags
}
