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
