import { pino, type Logger, type DestinationStream } from 'pino'

/**
 * The process logger. Secrets never reach the log: authorization headers,
 * tokens and the override secret are redacted wherever they appear.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-switchyard-override-secret"]',
          'headers.authorization',
          'token',
          '*.token',
          'secret',
          '*.secret',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  )
}

export type { Logger }

/**
 * What switchyard's modules log through: the process logger (pino) fits it,
 * and tests pass a recorder or {@link silentLog}. A module that needs less
 * takes a `Pick<Log, ...>` of it, so a test can hand in only that.
 *
 * @example
 * function retry(log: Pick<Log, 'warn'>) { log.warn({ attempt: 2 }, 'retrying') }
 */
export interface Log {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/** Discards everything: the default where a logger is optional. */
export const silentLog: Log = { info() {}, warn() {}, error() {} }
