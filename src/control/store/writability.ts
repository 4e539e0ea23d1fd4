import { probeWritable } from './atomic-file.js'

/** Options of {@link Writability}. */
export interface WritabilityOptions {
  /** a probe result younger than this is reused (default 1000 ms) */
  intervalMs?: number
  /** a probe that takes longer counts as a failure (default 2000 ms) */
  timeoutMs?: number
}

/**
 * Whether a file can be written right now, for readiness: a full disk
 * (ENOSPC), a read-only mount (EROFS) or a folder that went away all make
 * every write fail while reads and routing go on.
 *
 * Two sources of truth, the newest wins: the outcome of each real write
 * (reported with {@link ok} / {@link failed}), and a probe that writes a
 * temp file of the same size as the last real write next to the file and
 * removes it ({@link refresh}; at most one per `intervalMs`, each bounded by
 * `timeoutMs`). So readiness notices a broken disk before the next write
 * does, and recovers once the disk takes writes again, without a write.
 *
 * ```
 *   real write ok ──► problem = null ◄── probe ok
 *   real write err ─► problem = "cannot write <path>: <code>" ◄── probe err / timeout
 * ```
 */
export class Writability {
  readonly #path: string
  readonly #intervalMs: number
  readonly #timeoutMs: number
  #problem: string | null = null
  /** bumped by every real write, so a probe started earlier cannot overrule it */
  #generation = 0
  #bytes = 1
  #probing: Promise<void> | null = null
  #probedAt = -Infinity

  constructor(path: string, opts: WritabilityOptions = {}) {
    this.#path = path
    this.#intervalMs = opts.intervalMs ?? 1000
    this.#timeoutMs = opts.timeoutMs ?? 2000
  }

  /** null when the file can be written as far as known; otherwise why not. */
  get problem(): string | null {
    return this.#problem
  }

  /** A real write of `bytes` bytes succeeded. */
  ok(bytes: number): void {
    this.#generation++
    this.#bytes = bytes
    this.#problem = null
  }

  /** A real write of `bytes` bytes failed with `e`. */
  failed(e: unknown, bytes: number): void {
    this.#generation++
    this.#bytes = bytes
    this.#problem = this.#describe(e)
  }

  /**
   * Brings {@link problem} up to date: probes when the last answer is older
   * than `intervalMs` (or joins the probe in progress), waiting at most
   * `timeoutMs`. Never throws.
   */
  async refresh(): Promise<void> {
    if (this.#probing === null && Date.now() - this.#probedAt >= this.#intervalMs) this.#probing = this.#probe()
    if (this.#probing === null) return
    const generation = this.#generation
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.#timeoutMs)
    })
    const isLate = await Promise.race([this.#probing.then(() => false), late])
    clearTimeout(timer)
    if (isLate && generation === this.#generation && this.#probing !== null) {
      this.#problem = `cannot write ${this.#path}: the disk did not answer within ${this.#timeoutMs} ms`
    }
  }

  /** Resolves once no probe is running (for close). */
  async settled(): Promise<void> {
    await this.#probing
  }

  async #probe(): Promise<void> {
    const generation = this.#generation
    let problem: string | null = null
    try {
      await probeWritable(this.#path, this.#bytes)
    } catch (e) {
      problem = this.#describe(e)
    }
    this.#probedAt = Date.now()
    this.#probing = null
    if (generation === this.#generation) this.#problem = problem
  }

  #describe(e: unknown): string {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message
    return `cannot write ${this.#path}: ${reason}`
  }
}
