import { readFile } from 'node:fs/promises'
import type { Log } from '../observability/logger.js'
import type { State } from '../routing/index.js'
import { removeStaleTempFiles, writeFileAtomic } from './store/atomic-file.js'

/** The part of the logger the cache uses: `warn`, and `info` when there is one. */
type CacheLog = Pick<Log, 'warn'> & Partial<Pick<Log, 'info'>>

/**
 * A local copy of the last state a Redis-backed router applied
 * (`store.cachePath`). Redis stays the truth; the copy only lets a router
 * that (re)starts while Redis is down route by the last state it knew
 * instead of refusing to start. Writes are atomic (temp file + rename),
 * serialized, and never fail a request or a state change: a failed write is
 * logged and the next change tries again.
 */
export class StateCache {
  readonly #path: string
  readonly #logger: CacheLog | undefined
  #chain: Promise<void> = Promise.resolve()
  #pending: State | null = null
  #cleaned = false

  constructor(path: string, logger?: CacheLog) {
    this.#path = path
    this.#logger = logger
  }

  /** The cached state, or null when there is none or it cannot be read. */
  async read(): Promise<State | null> {
    let text: string
    try {
      text = await readFile(this.#path, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        this.#logger?.warn({ err: (e as Error).message, path: this.#path }, 'state cache unreadable')
      return null
    }
    try {
      const s = JSON.parse(text) as State
      if (Number.isInteger(s.version) && (s.live === 'blue' || s.live === 'green') && Array.isArray(s.cohorts)) return s
    } catch {
      // reported below
    }
    this.#logger?.warn({ path: this.#path }, 'state cache is not a state; ignoring it')
    return null
  }

  /**
   * Stores `state` in the background. Writes that pile up while one is in
   * progress collapse into the newest, so a burst of changes costs two
   * writes, not one per change.
   */
  write(state: State): void {
    const idle = this.#pending === null
    this.#pending = state
    if (idle) this.#chain = this.#chain.then(() => this.#flush())
  }

  /** Resolves once every write asked for so far is on disk (or failed). */
  flushed(): Promise<void> {
    return this.#chain
  }

  async #flush(): Promise<void> {
    const state = this.#pending
    this.#pending = null
    if (state === null) return
    if (!this.#cleaned) {
      // Before the first write: temp files a crashed predecessor left behind.
      this.#cleaned = true
      const removed = await removeStaleTempFiles(this.#path)
      if (removed.length > 0) this.#logger?.info?.({ path: this.#path, removed }, 'removed temp files left by a crashed writer')
    }
    try {
      await writeFileAtomic(this.#path, JSON.stringify(state), false)
    } catch (e) {
      this.#logger?.warn({ err: (e as Error).message, path: this.#path }, 'could not write the state cache')
    }
  }
}
