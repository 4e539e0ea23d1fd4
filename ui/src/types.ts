/** The admin API's shapes, as far as the page reads them. */

export type Color = 'blue' | 'green'

export interface Rollout {
  color: Color
  steps: { percent: number; holdSeconds: number }[]
  stepIndex: number
  status: string
  autoPromote: boolean
}

export interface State {
  version: number
  live: Color
  previous: Color | null
  canary: number
  rollout: Rollout | null
  updatedAt: string
  /** present once mirroring exists in the router */
  mirror?: number
}

export interface HistoryEntry {
  app?: string
  at: string
  version: number
  action: string
  from: string | number | null
  to: string | number | null
  actor: string
  reason: string | null
}

export interface AppSummary {
  name: string
  hosts: string[]
  live: Color
  canary: number
  version: number
}

export interface Health {
  colors: Record<Color, { role: string; targets: { url: string; up: boolean }[]; requests: number; errors: number; errorRate: number }>
}

export interface Shadow {
  percent: number
  samples: number
  mismatches: number
  mismatchRate: number
}

export interface Progress {
  step: number
  steps: number
  percent: number
  heldSeconds: number
  holdSeconds: number
  waitingFor: string | null
}

export interface Instance {
  id: string
  appliedVersion: number
  apps?: Record<string, number>
}

export interface ColorStats {
  rps: number
  errorRate: number
  p99: number | null
}

export interface StatsEvent {
  app: string
  colors: Record<Color, ColorStats>
}
