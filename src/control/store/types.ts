import type { HistoryEntry, State } from '../../routing/index.js'

/**
 * Where the state and its history live. Implementations: the file store
 * (one instance, embedded default) and the Redis store (many instances).
 *
 * Every write is a compare-and-set on the version: `commit` stores `next`
 * only if the stored version is `next.version - 1`, and appends `entry` to
 * the history in the same step, so nothing is half-applied.
 */
export interface StateStore {
  readonly kind: 'file' | 'redis'
  /** Opens the store and returns the stored state, or null when it is empty. */
  load(): Promise<State | null>
  /**
   * Stores `state` only if the store is still empty (compare-and-set on
   * emptiness); returns the state stored afterwards, which is another
   * writer's when that one was first.
   */
  initialize(state: State): Promise<State>
  /**
   * Stores `next` and appends `entry` iff the stored version is
   * `next.version - 1`. Throws SwitchyardError VERSION_MISMATCH when stale,
   * STORE_UNAVAILABLE when the store cannot be reached (quickly, no hang).
   */
  commit(next: State, entry: HistoryEntry): Promise<void>
  /** History, newest first, at most `limit` entries. */
  history(limit: number): Promise<HistoryEntry[]>
  /**
   * Calls `listener` with states written elsewhere (another instance), on
   * reconnect and on a periodic re-read. The file store never calls it.
   */
  onState(listener: (state: State) => void): void
  /** Whether the store is reachable now and can take writes (for /readyz). */
  reachable(): boolean
  /**
   * Why `reachable()` is false, e.g. "cannot write /data/state.json: EROFS";
   * null when it is not. Optional: /readyz falls back to "<kind> store unreachable".
   */
  unreachableReason?(): string | null
  /**
   * Brings `reachable()` up to date before /readyz asks (the file store tries
   * a write next to its file, at most once a second); bounded, never throws.
   * Optional: a store that always knows (Redis watches its connection) has none.
   */
  probe?(): Promise<void>
  close(): Promise<void>
}

/**
 * `store`'s methods as own, bound properties, so a caller can wrap one of
 * them with a spread (`{ ...store, commit: failingCommit }`), as the tests
 * and fault injectors do; a class instance keeps its methods on the
 * prototype, where a spread does not reach.
 */
export function spreadableStore(store: StateStore): StateStore {
  const plain: StateStore = {
    kind: store.kind,
    load: () => store.load(),
    initialize: (state) => store.initialize(state),
    commit: (next, entry) => store.commit(next, entry),
    history: (limit) => store.history(limit),
    onState: (listener) => store.onState(listener),
    reachable: () => store.reachable(),
    close: () => store.close(),
  }
  if (store.unreachableReason !== undefined) plain.unreachableReason = () => store.unreachableReason?.() ?? null
  if (store.probe !== undefined) plain.probe = () => store.probe?.() ?? Promise.resolve()
  return plain
}
