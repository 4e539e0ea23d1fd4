import { readFile } from 'node:fs/promises'
import { removeStaleTempFiles, writeFileAtomic } from './atomic-file.js'
import { Writability, type WritabilityOptions } from './writability.js'
import { SwitchyardError, isSwitchyardError } from '../../errors.js'
import type { HistoryEntry, State } from '../../routing/index.js'
import type { StateStore } from './types.js'

/** Options of {@link createFileStore}. */
export interface FileStoreOptions {
  /** the JSON file; its directory is created when missing */
  path: string
  /** history entries kept, newest first (default 1000) */
  historyLimit?: number
  /** how often and how long readiness may probe the disk (see {@link Writability}) */
  probe?: WritabilityOptions
  /** told about stale temp files removed at load */
  logger?: { info(obj: object, msg: string): void }
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
 * const store = createFileStore({ path: './data/state.json' })
 * const state = (await store.load()) ?? (await store.initialize(initialState('blue', now)))
 */
export function createFileStore(opts: FileStoreOptions): StateStore {
  const path = opts.path
  const historyLimit = opts.historyLimit ?? 1000
  if (!Number.isInteger(historyLimit) || historyLimit < 1) {
    throw new SwitchyardError('CONFIG_INVALID', `historyLimit must be a positive integer, got ${historyLimit}`)
  }
  /** undefined: not read yet; null: read, no file */
  let doc: Doc | null | undefined
  let chain: Promise<unknown> = Promise.resolve()
  let cleaned = false
  const writability = new Writability(path, opts.probe)

  /** Runs `fn` after every earlier write finished (success or not). */
  function serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = chain.then(fn, fn)
    chain = run.catch(() => undefined)
    return run
  }

  function unavailable(what: string, e: unknown): SwitchyardError {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message
    return new SwitchyardError('STORE_UNAVAILABLE', `state file ${path}: ${what}: ${reason}`)
  }

  async function read(): Promise<Doc | null> {
    await removeOrphans()
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw unavailable('cannot read', e)
    }
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

  async function ensureLoaded(): Promise<Doc | null> {
    if (doc === undefined) doc = await read()
    return doc
  }

  async function write(next: Doc): Promise<void> {
    const json = JSON.stringify(next)
    try {
      await writeFileAtomic(path, json, true)
    } catch (e) {
      writability.failed(e, Buffer.byteLength(json))
      throw unavailable('cannot write', e)
    }
    writability.ok(Buffer.byteLength(json))
  }

  /** Once per store, before its first read and write: nobody else writes this file. */
  async function removeOrphans(): Promise<void> {
    if (cleaned) return
    cleaned = true
    const removed = await removeStaleTempFiles(path)
    if (removed.length > 0) opts.logger?.info({ path, removed }, 'removed temp files left by a crashed writer')
  }

  return {
    kind: 'file',

    load() {
      return serialized(async () => {
        doc = await read()
        return doc === null ? null : doc.state
      })
    },

    initialize(state) {
      return serialized(async () => {
        const current = await ensureLoaded()
        if (current !== null) return current.state
        const next: Doc = { state, history: [] }
        await write(next)
        doc = next
        return state
      })
    },

    commit(next, entry) {
      return serialized(async () => {
        const current = await ensureLoaded()
        const stored = current === null ? 0 : current.state.version
        if (next.version !== stored + 1) {
          throw new SwitchyardError(
            'VERSION_MISMATCH',
            `cannot store version ${next.version}: the stored version is ${stored}`,
          )
        }
        const history = [entry, ...(current === null ? [] : current.history)]
        if (history.length > historyLimit) history.length = historyLimit
        const nextDoc: Doc = { state: next, history }
        // Memory changes only after the file did: a failed write changes nothing.
        await write(nextDoc)
        doc = nextDoc
      })
    },

    async history(limit) {
      const current = await serialized(ensureLoaded).catch((e: unknown) => {
        throw isSwitchyardError(e) ? e : unavailable('cannot read', e)
      })
      return current === null ? [] : current.history.slice(0, Math.max(0, limit))
    },

    onState() {
      // One instance writes the file; there is nobody else to hear from.
    },

    reachable() {
      return writability.problem === null
    },

    unreachableReason() {
      const problem = writability.problem
      return problem === null ? null : `file store ${problem}`
    },

    probe() {
      return writability.refresh()
    },

    async close() {
      await chain
      await writability.settled()
    },
  }
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
