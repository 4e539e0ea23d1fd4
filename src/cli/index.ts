import { readFileSync } from 'node:fs'
import { demo } from './demo.js'
import { processIo, type Io } from './io.js'
import { serve } from './serve.js'
import { CLIENT_USAGE, runClient } from './client.js'

const USAGE = `switchyard — blue-green and canary router

usage:
  switchyard serve --config <file>      run the router (SWITCHYARD_CONFIG also works)
  switchyard demo                       two demo apps and a router, nothing else needed

${CLIENT_USAGE}`

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
