import { readFile } from 'node:fs/promises'
import { removeStaleTempFiles, writeFileAtomic } from './atomic-file.js'
import { Writability, type WritabilityOptions } from './writability.js'
import { SwitchyardError, isSwitchyardError } from '../../errors.js'
import type { Log } from '../../observability/logger.js'
import type { HistoryEntry, State } from '../../routing/index.js'
import { spreadableStore, type StateStore } from './types.js'

/** Options of {@link FileStore}. */
export interface FileStoreOptions {
  /** the JSON file; its directory is created when missing */
  path: string
  /** history entries kept, newest first (default 1000) */
  historyLimit?: number
  /** how often and how long readiness may probe the disk (see {@link Writability}) */
  probe?: WritabilityOptions
  /** told about stale temp files removed at load */
  logger?: Pick<Log, 'info'>
}

/** What the file holds. */
interface Doc {
  state: State
  history: HistoryEntry[]
}

/**
 * A store for one instance: one JSON file `{ state, history }`.
 *
 * Every write replaces the whole file atomically (temp file in the same
 * directory, fsync, rename, fsync the directory), so a crash leaves either
 * the old or the new file, never half of one. Writes are serialized through
 * one promise chain, and `commit` is a compare-and-set on the version held in
 * memory: this process is the only writer, so the file is read once, at load.
 *
 * The first load removes temp files a crashed predecessor left next to the
 * file (only names of the writer's own pattern). `reachable()` is false while
 * the file cannot be written (full disk, read-only mount): after a failed
 * write, and when `probe()` (awaited by /readyz) finds it so; it recovers by
 * itself once a probe or a write succeeds.
 *
 * A file that exists but cannot be read or parsed is an error
 * (STORE_UNAVAILABLE naming the path), never a silent reset to an empty
 * store: that would throw away the operators' live color and history.
 *
 * @example
 * const store = new FileStore({ path: './data/state.json' })
 * const state = (await store.load()) ?? (await store.initialize(initialState('blue', now)))
 */
export class FileStore implements StateStore {
  readonly kind = 'file'
  readonly #path: string
  readonly #historyLimit: number
  readonly #logger: FileStoreOptions['logger']
  readonly #writability: Writability
  /** undefined: not read yet; null: read, no file */
  #doc: Doc | null | undefined
  #chain: Promise<unknown> = Promise.resolve()
  #cleaned = false

  constructor(opts: FileStoreOptions) {
    const historyLimit = opts.historyLimit ?? 1000
    if (!Number.isInteger(historyLimit) || historyLimit < 1) {
      throw new SwitchyardError('CONFIG_INVALID', `historyLimit must be a positive integer, got ${historyLimit}`)
    }
    this.#path = opts.path
    this.#historyLimit = historyLimit
    this.#logger = opts.logger
    this.#writability = new Writability(opts.path, opts.probe)
  }

  load(): Promise<State | null> {
    return this.#serialized(async () => {
      this.#doc = await this.#read()
      return this.#doc === null ? null : this.#doc.state
    })
  }

  initialize(state: State): Promise<State> {
    return this.#serialized(async () => {
      const current = await this.#ensureLoaded()
      if (current !== null) return current.state
      const next: Doc = { state, history: [] }
      await this.#write(next)
      this.#doc = next
      return state
    })
  }

  commit(next: State, entry: HistoryEntry): Promise<void> {
    return this.#serialized(async () => {
      const current = await this.#ensureLoaded()
      const stored = current === null ? 0 : current.state.version
      if (next.version !== stored + 1) {
        throw new SwitchyardError('VERSION_MISMATCH', `cannot store version ${next.version}: the stored version is ${stored}`)
      }
      const history = [entry, ...(current === null ? [] : current.history)]
      if (history.length > this.#historyLimit) history.length = this.#historyLimit
      const nextDoc: Doc = { state: next, history }
      // Memory changes only after the file did: a failed write changes nothing.
      await this.#write(nextDoc)
      this.#doc = nextDoc
    })
  }

  async history(limit: number): Promise<HistoryEntry[]> {
    const current = await this.#serialized(() => this.#ensureLoaded()).catch((e: unknown) => {
      throw isSwitchyardError(e) ? e : this.#unavailable('cannot read', e)
    })
    return current === null ? [] : current.history.slice(0, Math.max(0, limit))
  }

  onState(): void {
    // One instance writes the file; there is nobody else to hear from.
  }

  reachable(): boolean {
    return this.#writability.problem === null
  }

  unreachableReason(): string | null {
    const problem = this.#writability.problem
    return problem === null ? null : `file store ${problem}`
  }

  probe(): Promise<void> {
    return this.#writability.refresh()
  }

  async close(): Promise<void> {
    await this.#chain
    await this.#writability.settled()
  }

  /** Runs `fn` after every earlier write finished (success or not). */
  #serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn)
    this.#chain = run.catch(() => undefined)
    return run
  }

  #unavailable(what: string, e: unknown): SwitchyardError {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message
    return new SwitchyardError('STORE_UNAVAILABLE', `state file ${this.#path}: ${what}: ${reason}`)
  }

  async #read(): Promise<Doc | null> {
    await this.#removeOrphans()
    let text: string
    try {
      text = await readFile(this.#path, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw this.#unavailable('cannot read', e)
    }
    return parseDoc(this.#path, text)
  }

  async #ensureLoaded(): Promise<Doc | null> {
    if (this.#doc === undefined) this.#doc = await this.#read()
    return this.#doc
  }

  async #write(next: Doc): Promise<void> {
    const json = JSON.stringify(next)
    try {
      await writeFileAtomic(this.#path, json, true)
    } catch (e) {
      this.#writability.failed(e, Buffer.byteLength(json))
      throw this.#unavailable('cannot write', e)
    }
    this.#writability.ok(Buffer.byteLength(json))
  }

  /** Once per store, before its first read and write: nobody else writes this file. */
  async #removeOrphans(): Promise<void> {
    if (this.#cleaned) return
    this.#cleaned = true
    const removed = await removeStaleTempFiles(this.#path)
    if (removed.length > 0) this.#logger?.info({ path: this.#path, removed }, 'removed temp files left by a crashed writer')
  }
}

/** A {@link FileStore} as a plain object of its methods (see {@link spreadableStore}); what other modules call. */
export function createFileStore(opts: FileStoreOptions): StateStore {
  return spreadableStore(new FileStore(opts))
}

/** The document in `text`, or STORE_UNAVAILABLE naming `path` and what is wrong: never a silent reset. */
function parseDoc(path: string, text: string): Doc {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    throw new SwitchyardError(
      'STORE_UNAVAILABLE',
      `state file ${path} is corrupt (not JSON: ${(e as Error).message}); fix or move it away, it is never reset silently`,
    )
  }
  if (!isDoc(parsed)) {
    throw new SwitchyardError(
      'STORE_UNAVAILABLE',
      `state file ${path} is corrupt (expected {state: {version, live, ...}, history: [...]}); fix or move it away, it is never reset silently`,
    )
  }
  return parsed
}

function isDoc(v: unknown): v is Doc {
  if (typeof v !== 'object' || v === null) return false
  const d = v as Record<string, unknown>
  const s = d.state as Record<string, unknown> | null
  return (
    typeof s === 'object' &&
    s !== null &&
    Number.isInteger(s.version) &&
    (s.live === 'blue' || s.live === 'green') &&
    typeof s.canary === 'number' &&
    Array.isArray(s.cohorts) &&
    Array.isArray(d.history)
  )
}
