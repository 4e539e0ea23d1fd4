import { SwitchyardError } from '../errors.js'
import { other } from './compile.js'
import { flip, type Change, type ChangeContext } from './transitions.js'
import type { Action, HistoryEntry, Rollout, RolloutStep, State } from './types.js'

/**
 * Progressive rollouts as pure state transitions. The rollout lives in
 * `state.rollout`, so it survives a restart and is shared by every instance;
 * the controller (src/control/rollout-controller.ts) only decides *when* to call these.
 *
 * ```
 *  start ──► step 0 ──hold ok──► step 1 ──► … ──► last step ──hold ok──► promote (flip)
 *              │  ▲                                   │  (autoPromote: false)
 *        pause │  │ resume                            └──► awaiting-promotion ──promote──►
 *              ▼  │
 *            paused          abort / breach at any point: canary 0, rollout null
 * ```
 */

/** What an operator asks for. */
export interface RolloutPlan {
  steps: RolloutStep[]
  /** flip to the rolled-out color after the last step (default true) */
  autoPromote?: boolean
}

export const MAX_STEPS = 20

function bad(message: string): SwitchyardError {
  return new SwitchyardError('BAD_REQUEST', message)
}

/**
 * Refuses a plan that could never finish the way it reads (Flagger's early
 * bug: a max weight not reachable by its steps still "succeeded"). Throws
 * SwitchyardError BAD_REQUEST naming the first wrong step.
 */
export function validatePlan(steps: readonly RolloutStep[]): void {
  if (!Array.isArray(steps) || steps.length < 1 || steps.length > MAX_STEPS) {
    throw bad(`A rollout needs 1 to ${MAX_STEPS} steps`)
  }
  let last = 0
  for (let i = 0; i < steps.length; i++) {
    // (Array.isArray above widened `steps` to any[])
    const { percent, holdSeconds } = steps[i] as RolloutStep
    if (typeof percent !== 'number' || !(percent > 0 && percent <= 100)) {
      throw bad(`steps[${i}].percent must be above 0 and at most 100`)
    }
    if (Math.abs(percent * 100 - Math.round(percent * 100)) > 1e-6) {
      throw bad(`steps[${i}].percent has more than two decimals`)
    }
    if (percent <= last) {
      throw bad(`steps[${i}].percent (${percent}) must be above the previous step's (${last})`)
    }
    if (!Number.isInteger(holdSeconds) || holdSeconds < 1) {
      throw bad(`steps[${i}].holdSeconds must be a whole number of at least 1`)
    }
    last = percent
  }
}

function need(state: State): Rollout {
  if (state.rollout === null) throw new SwitchyardError('NO_ROLLOUT')
  return state.rollout
}

/**
 * The next state with `rollout` and `canary`, and its history entry (action
 * 'rollout' unless told, detail {op, step, percent}).
 */
function withRollout(
  state: State,
  ctx: ChangeContext,
  rollout: Rollout | null,
  canary: number,
  op: string,
  step: number,
  action: Action = 'rollout',
  extra?: Record<string, unknown>,
): Change {
  const next: State = { ...state, rollout, canary, version: state.version + 1, updatedAt: ctx.at }
  const entry: HistoryEntry = {
    at: ctx.at,
    version: next.version,
    action,
    from: state.canary,
    to: canary,
    actor: ctx.actor,
    reason: ctx.reason,
    detail: { op, step, percent: canary, ...extra },
  }
  return { state: next, entry }
}

/**
 * Starts a rollout of the idle color: the canary takes the first step's
 * percent. ROLLOUT_ACTIVE when one is in progress; BAD_REQUEST for a bad plan.
 */
export function startRollout(state: State, ctx: ChangeContext, plan: RolloutPlan, id: string): Change {
  if (state.rollout !== null) throw new SwitchyardError('ROLLOUT_ACTIVE')
  validatePlan(plan.steps)
  const steps = plan.steps.map((s) => ({ percent: s.percent, holdSeconds: s.holdSeconds }))
  const rollout: Rollout = {
    id,
    color: other(state.live),
    steps,
    autoPromote: plan.autoPromote ?? true,
    stepIndex: 0,
    status: 'running',
    stepStartedAt: ctx.at,
    heldMs: 0,
    startedAt: ctx.at,
  }
  return withRollout(state, ctx, rollout, steps[0].percent, 'start', 0, 'rollout', { id })
}

/** Hold time served in the current step at `nowMs` (paused time excluded). */
export function heldMs(rollout: Rollout, nowMs: number): number {
  if (rollout.status !== 'running') return rollout.heldMs
  return rollout.heldMs + Math.max(0, nowMs - Date.parse(rollout.stepStartedAt))
}

/** Whether the current step has been held for its full time at `nowMs`. */
export function holdElapsed(rollout: Rollout, nowMs: number): boolean {
  return heldMs(rollout, nowMs) >= rollout.steps[rollout.stepIndex].holdSeconds * 1000
}

/**
 * Moves a running rollout past step `stepIndex` of rollout `id`: to the next
 * step, or after the last one to a promotion (flip) when `autoPromote`, else
 * to 'awaiting-promotion'. Returns null when the fresh state is no longer
 * that rollout at that step (another instance advanced it, or it ended), so
 * several instances advance it once.
 */
export function advance(state: State, ctx: ChangeContext, id: string, stepIndex: number): Change | null {
  const r = state.rollout
  if (r === null || r.id !== id || r.stepIndex !== stepIndex || r.status !== 'running') return null
  const next = stepIndex + 1
  if (next < r.steps.length) {
    const rollout: Rollout = { ...r, stepIndex: next, stepStartedAt: ctx.at, heldMs: 0 }
    return withRollout(state, ctx, rollout, r.steps[next].percent, 'advance', next)
  }
  if (r.autoPromote) return promote(state, ctx)
  return withRollout(state, ctx, { ...r, status: 'awaiting-promotion' }, state.canary, 'await-promotion', stepIndex)
}

/** Stops the hold clock; null when not running. NO_ROLLOUT when there is none. */
export function pause(state: State, ctx: ChangeContext): Change | null {
  const r = need(state)
  if (r.status !== 'running') return null
  const rollout: Rollout = { ...r, status: 'paused', heldMs: heldMs(r, Date.parse(ctx.at)) }
  return withRollout(state, ctx, rollout, state.canary, 'pause', r.stepIndex)
}

/** Restarts the hold clock where it stopped; null when not paused. */
export function resume(state: State, ctx: ChangeContext): Change | null {
  const r = need(state)
  if (r.status !== 'paused') return null
  const rollout: Rollout = { ...r, status: 'running', stepStartedAt: ctx.at }
  return withRollout(state, ctx, rollout, state.canary, 'resume', r.stepIndex)
}

/**
 * Ends the rollout and sends every user back to live (canary 0). With
 * `action` 'auto-revert' and the measured rate in `detail`, this is the
 * revert on a breach. NO_ROLLOUT when there is none.
 */
export function abort(state: State, ctx: ChangeContext, action: Action = 'rollout', detail?: Record<string, unknown>): Change {
  const r = need(state)
  return withRollout(state, ctx, null, 0, 'abort', r.stepIndex, action, detail)
}

/** Flips to the rolled-out color now, ending the rollout. NO_ROLLOUT when none. */
export function promote(state: State, ctx: ChangeContext): Change {
  const r = need(state)
  // The rollout is not null, so flip always changes something.
  const c = flip(state, ctx, r.color, 'rollout') as Change
  c.entry.detail = { op: 'promote', step: r.stepIndex, percent: 100 }
  return c
}
