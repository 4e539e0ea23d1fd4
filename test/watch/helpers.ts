import { EventEmitter } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import type { Change, HistoryEntry, State } from '../../src/routing/index.js'
import type { ChangeEvent, Transition, WriteOptions, WriteResult } from '../../src/control/types.js'

export { T0, fakeClock } from '../helpers/time.js'

/** Collects log lines of a pino-like logger. */
export function memoryLogger(): {
  lines: { level: string; obj: unknown; msg?: string }[]
  info: (obj: unknown, msg?: string) => void
  warn: (obj: unknown, msg?: string) => void
  error: (obj: unknown, msg?: string) => void
  debug: (obj: unknown, msg?: string) => void
} {
  const lines: { level: string; obj: unknown; msg?: string }[] = []
  const at = (level: string) => (obj: unknown, msg?: string) => {
    lines.push({ level, obj, msg })
  }
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') }
}

/**
 * An in-memory StateService with the agreed `update` semantics: runs the
 * transition on the current state, stores the result, emits 'change'.
 * `external(fn)` changes the state as another instance would (entry null).
 */
export class FakeService extends EventEmitter {
  #state: State
  readonly history: HistoryEntry[] = []
  updates = 0
  readonly options: (WriteOptions & { retries?: number })[] = []
  /** when set, the next update first applies this (a concurrent writer) */
  race: ((s: State) => State) | null = null

  constructor(state: State) {
    super()
    this.#state = state
  }

  get state(): State {
    return this.#state
  }

  async update(t: Transition, o: WriteOptions & { retries?: number }): Promise<WriteResult> {
    this.updates++
    this.options.push(o)
    await Promise.resolve()
    if (this.race !== null) {
      const r = this.race
      this.race = null
      this.#set(r(this.#state), null)
    }
    const c: Change | null = t(this.#state)
    if (c === null) return { changed: false, state: this.#state, entry: null, converged: null }
    // Like the real service: the transition's entry is stored as it is.
    const entry = c.entry
    this.history.unshift(entry)
    this.#set(c.state, entry)
    return { changed: true, state: c.state, entry, converged: true }
  }

  /** Sets the state directly, as a remote instance's write would. */
  external(next: State): void {
    this.#set(next, null)
  }

  #set(state: State, entry: HistoryEntry | null): void {
    const previous = this.#state
    this.#state = state
    const e: ChangeEvent = { app: 'default', state, previous, entry }
    this.emit('change', e)
  }
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void

/** A real HTTP server on 127.0.0.1:0, closed at teardown. */
export async function server(t: Test, handler: Handler): Promise<{ url: string; server: Server }> {
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')))
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections()
        srv.close(() => resolve())
      }),
  )
  const { port } = srv.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, server: srv }
}

export { stateV } from '../helpers/state.js'
