import { readFileSync } from 'node:fs'
import { demo } from './demo.js'
import { processIo, type Io } from './io.js'
import { serve } from './serve.js'
import { runClient } from './client.js'

const USAGE = `switchyard — blue-green and canary router

usage:
  switchyard serve --config <file>      run the router (SWITCHYARD_CONFIG also works)
  switchyard demo                       two demo apps and a router, nothing else needed
  switchyard status | flip [--to C] [--force] | rollback | canary <percent>
  switchyard cohort set <name> ... | cohort rm <name> | cohort ls
  switchyard history | smoke [color] | explain | health | instances
  switchyard rollout start --steps 10:60,50:60,100:60 [--auto-promote] | rollout pause|resume|abort|promote|status

operator commands take --admin URL (default http://127.0.0.1:9901), --json;
the token comes from SWITCHYARD_ADMIN_TOKEN.
`

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/** Runs the `switchyard` command line; resolves with the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve':
      return serve(rest, io)
    case 'demo':
      return demo(rest, io)
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout(USAGE)
      return command === undefined ? 2 : 0
    case '--version':
    case '-v':
      io.stdout(`${version()}\n`)
      return 0
    default:
      return runClient(argv, io)
  }
}
