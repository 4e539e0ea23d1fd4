import { parseArgs } from 'node:util'
import { loadConfig, type Config } from '../config/index.js'
import { startRouter, type RunningRouter } from '../main.js'
import { describeStartError, type Io } from './io.js'

/**
 * Runs a router until SIGTERM or SIGINT, then drains and resolves with the
 * exit code. A second signal while draining stops at once. SIGHUP reloads
 * the config file; an invalid file is logged and changes nothing.
 */
export async function runUntilSignal(router: RunningRouter, io: Io): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false
    const onHangup = (): void => {
      if (stopping) return
      router.logger.info({ signal: 'SIGHUP' }, 'reloading the config file')
      router.reload().catch((e: unknown) => {
        const problems = (e as { problems?: string[] }).problems
        router.logger.error(
          { signal: 'SIGHUP', code: (e as { code?: string }).code, errors: problems ?? [(e as Error).message] },
          'reload refused; going on with the config it had',
        )
      })
    }
    process.on('SIGHUP', onHangup)
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        io.stderr(`switchyard: ${signal} again, exiting now\n`)
        resolve(1)
        return
      }
      stopping = true
      router.logger.info({ signal }, 'draining in-flight requests, then exiting')
      router.close().then(
        () => {
          process.off('SIGTERM', onSignal)
          process.off('SIGINT', onSignal)
          process.off('SIGHUP', onHangup)
          router.logger.info('stopped')
          resolve(0)
        },
        (e: unknown) => {
          io.stderr(`switchyard: error while stopping: ${(e as Error).message}\n`)
          resolve(1)
        },
      )
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
}

/** `switchyard serve --config <file>` */
export async function serve(argv: string[], io: Io): Promise<number> {
  let configPath: string | undefined
  try {
    const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true })
    configPath = values.config
  } catch (e) {
    io.stderr(`switchyard serve: ${(e as Error).message}\nusage: switchyard serve --config <file>\n`)
    return 2
  }
  let config: Config
  try {
    config = loadConfig(configPath, io.env)
  } catch (e) {
    io.stderr(`switchyard: ${(e as Error).message}\n`)
    return 2
  }
  let router: RunningRouter
  try {
    router = await startRouter(config, { configPath: configPath ?? io.env.SWITCHYARD_CONFIG, env: io.env })
  } catch (e) {
    io.stderr(`switchyard: cannot start: ${describeStartError(e)}\n`)
    return 1
  }
  return runUntilSignal(router, io)
}
