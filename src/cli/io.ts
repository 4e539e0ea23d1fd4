import { isSwitchyardError } from '../errors.js'

/** Where a command reads its environment and writes its output. */
export interface Io {
  env: NodeJS.ProcessEnv
  stdout: (s: string) => void
  stderr: (s: string) => void
}

export const processIo: Io = {
  env: process.env,
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
}

/** A start-up failure as one line an operator can act on (no stack trace). */
export function describeStartError(e: unknown): string {
  if (isSwitchyardError(e)) return `${e.code}: ${e.message}`
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number }
  if (err.code === 'EADDRINUSE') return `address in use: ${err.address ?? ''}:${err.port ?? ''} (another process listens there)`
  if (err.code === 'EACCES') return `permission denied to listen on ${err.address ?? ''}:${err.port ?? ''}`
  if (err.code === 'EADDRNOTAVAIL') return `address not available: ${err.address ?? ''}`
  return err.message ?? String(e)
}
