import { SwitchyardError } from '../errors.js'
import type { Color } from '../routing/index.js'
import type { SmokeGate, WriteOptions } from './types.js'

/** The shadow diff's verdict on a color (dark launch); throws SHADOW_MISMATCH to refuse. */
export interface ShadowGate {
  check(color: Color): void
}

/**
 * The one gate before users are sent to `color` (a flip, a canary leaving 0,
 * a rollout start or promote), shared by the state service and the rollout
 * controller: the shadow diff first (a count, no I/O), then the smoke
 * checks. `force` skips both.
 */
export async function passGates(
  color: Color,
  o: WriteOptions,
  smoke: SmokeGate | undefined,
  shadow: ShadowGate | undefined,
): Promise<void> {
  if (o.force === true) return
  if (shadow !== undefined) shadow.check(color)
  if (smoke === undefined) return
  const report = await smoke.run(color)
  if (!report.ok) {
    const failed = report.checks.filter((c) => !c.ok).length
    throw new SwitchyardError('SMOKE_FAILED', `smoke checks failed on ${color}: ${failed} of ${report.checks.length} failed`, {
      color,
      checks: report.checks,
    })
  }
}
