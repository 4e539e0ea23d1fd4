import { sleep } from './time.js'

/** Bounded waits: every poll in the tests goes through these two. */

/**
 * Polls `probe` every `everyMs` until it returns a value other than
 * undefined/false and returns that value; throws after `timeoutMs` naming
 * `what` (and the last value seen).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(v)})`)
    await sleep(everyMs)
  }
}

/** Resolves when `predicate` holds, polling every 10 ms; rejects after `timeoutMs` naming `what`. */
export async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  await waitFor(what, async () => (await predicate()) || undefined, timeoutMs, 10)
}
