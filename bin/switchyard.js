#!/usr/bin/env node
// The package bin: runs the compiled CLI (npm ci runs `prepare`, which builds dist/).
import { existsSync } from 'node:fs'

const entry = new URL('../dist/cli/index.js', import.meta.url)
if (!existsSync(entry)) {
  process.stderr.write('switchyard: not built yet; run `npm run build` (npm ci does it for you)\n')
  process.exit(1)
}
// A router re-executes itself once with its V8 flags (a bounded young
// generation, see dist/cli/node-flags.js): same pid, stdio and signals.
// SWITCHYARD_NODE_FLAGS= (empty) runs it as is.
const argv = process.argv.slice(2)
if (typeof process.execve === 'function') {
  const { routerNodeFlags, APPLIED_ENV } = await import(new URL('../dist/cli/node-flags.js', import.meta.url).href)
  const flags = routerNodeFlags({ argv, execArgv: process.execArgv, env: process.env })
  if (flags !== null) {
    const args = [process.execPath, ...process.execArgv, ...flags, process.argv[1], ...argv]
    try {
      process.execve(process.execPath, args, { ...process.env, [APPLIED_ENV]: flags.join(' ') })
    } catch (err) {
      // A sandbox may forbid exec: the router runs as it is, with node's defaults.
      process.stderr.write(`switchyard: running without ${flags.join(' ')} (re-exec failed: ${err.message})\n`)
    }
  }
}
const { main } = await import(entry.href)
process.exitCode = await main(argv)
