import { SwitchyardError } from '../errors.js'
import { other } from './compile.js'
import type { Action, Cohort, Color, HistoryEntry, State } from './types.js'

/**
 * State transitions: pure functions from a state to the next one and the
 * history entry that records it. They decide *what* changes; the control plane
 * decides *whether* (smoke checks, If-Match, the store's compare-and-set).
 */

/** Who changes the state, when, and why. */
export interface ChangeContext {
  /** ISO time of the change */
  at: string
  actor: string
  reason: string | null
}

export interface Change {
  state: State
  entry: HistoryEntry
}

/** The state of an empty store; `mirror` is the config's `mirror.percent`. */
export function initialState(live: Color, at: string, mirror = 0): State {
  return {
    version: 1,
    live,
    previous: null,
    canary: 0,
    cohorts: [],
    rollout: null,
    updatedAt: at,
    lastFlipAt: null,
    lastFlipAction: null,
    mirror,
  }
}

function change(
  prev: State,
  next: Omit<State, 'version' | 'updatedAt'>,
  ctx: ChangeContext,
  action: Action,
  from: HistoryEntry['from'],
  to: HistoryEntry['to'],
  detail?: Record<string, unknown>,
): Change {
  const state: State = { ...next, version: prev.version + 1, updatedAt: ctx.at }
  const entry: HistoryEntry = {
    at: ctx.at,
    version: state.version,
    action,
    from,
    to,
    actor: ctx.actor,
    reason: ctx.reason,
  }
  if (detail !== undefined) entry.detail = detail
  return { state, entry }
}

/**
 * Makes `to` (default: the idle color) live. The canary and any rollout end.
 * Returns null when `to` is already live and nothing else would change.
 */
export function flip(state: State, ctx: ChangeContext, to?: Color, action: Action = 'flip'): Change | null {
  const target = to ?? other(state.live)
  if (target === state.live) {
    if (state.canary === 0 && state.rollout === null) return null
    // Already live: only the trial of the idle color ends.
    return change(state, { ...state, canary: 0, rollout: null }, ctx, action, state.live, target)
  }
  return change(
    state,
    { ...state, live: target, previous: state.live, canary: 0, rollout: null, lastFlipAt: ctx.at, lastFlipAction: action },
    ctx,
    action,
    state.live,
    target,
  )
}

/** Makes the previous live color live again; NO_PREVIOUS when there is none. */
export function rollback(state: State, ctx: ChangeContext, action: Action = 'rollback', detail?: Record<string, unknown>): Change {
  if (state.previous === null || state.previous === state.live) {
    throw new SwitchyardError('NO_PREVIOUS')
  }
  return change(
    state,
    { ...state, live: state.previous, previous: state.live, canary: 0, rollout: null, lastFlipAt: ctx.at, lastFlipAction: action },
    ctx,
    action,
    state.live,
    state.previous,
    detail,
  )
}

/** Sets the canary percent; null when it is already that percent. */
export function setCanary(
  state: State,
  ctx: ChangeContext,
  percent: number,
  action: Action = 'canary',
  detail?: Record<string, unknown>,
): Change | null {
  const p = Math.round(percent * 100) / 100
  if (p === state.canary) return null
  return change(state, { ...state, canary: p }, ctx, action, state.canary, p, detail)
}

/** Adds a cohort at the end, or replaces the one of the same name in place. */
export function putCohort(state: State, ctx: ChangeContext, cohort: Cohort): Change {
  const i = state.cohorts.findIndex((c) => c.name === cohort.name)
  const cohorts = state.cohorts.slice()
  if (i >= 0) cohorts[i] = cohort
  else cohorts.push(cohort)
  return change(state, { ...state, cohorts }, ctx, 'cohort', i >= 0 ? cohort.name : null, cohort.name, {
    op: i >= 0 ? 'replace' : 'add',
    color: cohort.color,
  })
}

/** Removes a cohort by name; NOT_FOUND when there is none. */
export function removeCohort(state: State, ctx: ChangeContext, name: string): Change {
  const cohorts = state.cohorts.filter((c) => c.name !== name)
  if (cohorts.length === state.cohorts.length) {
    throw new SwitchyardError('NOT_FOUND', `No cohort named "${name}"`)
  }
  return change(state, { ...state, cohorts }, ctx, 'cohort', name, null, { op: 'remove' })
}

/** Sets the mirror percent (dark launch); null when it is already that percent. */
export function setMirror(state: State, ctx: ChangeContext, percent: number): Change | null {
  const p = Math.round(percent * 100) / 100
  // A state stored before mirroring existed reads as 0 here; the runtime has
  // already filled it from the config (see Runtime).
  const from = typeof state.mirror === 'number' ? state.mirror : 0
  if (p === from && typeof state.mirror === 'number') return null
  return change(state, { ...state, mirror: p }, ctx, 'mirror', from, p)
}
