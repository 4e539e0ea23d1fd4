import { readFileSync } from 'node:fs'
import { USAGE, commandHelp, specOf, unknownCommand } from './commands.js'
import { processIo, type Io } from './io.js'

/**
 * The `switchyard` dispatcher. It imports only the command catalogue up
 * front: the router (`serve`, `demo`: fastify, undici, ioredis...) and the
 * admin client are loaded when their command runs, so `--version`, `--help`
 * and the operator commands start without loading the server.
 */

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/** Runs the `switchyard` command line; resolves with the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve':
      return (await import('./serve.js')).serve(rest, io)
    case 'demo':
      return (await import('./demo.js')).demo(rest, io)
    case undefined:
    case '--help':
    case '-h':
      io.stdout(USAGE)
      return command === undefined ? 2 : 0
    case 'help': {
      // `switchyard help flip` is `switchyard flip --help`.
      const topic = rest[0]
      if (topic === undefined) {
        io.stdout(USAGE)
        return 0
      }
      const spec = specOf(topic)
      if (spec === undefined) {
        io.stderr(`usage error: ${unknownCommand(topic)}\nrun "switchyard --help" for the commands\n`)
        return 2
      }
      io.stdout(commandHelp(spec))
      return 0
    }
    case '--version':
    case '-v':
      io.stdout(`${version()}\n`)
      return 0
    default: {
      // Operator commands, and anything else: the client names an unknown command (with a guess).
      const { runClient } = await import('./client.js')
      return runClient(argv, io)
    }
  }
}
