import type { HistoryEntry } from './types.js'

export const pct = (n: number): string => `${Number(n.toFixed(2))}%`

export function rate(r: number): string {
  return `${Number((r * 100).toFixed(r < 0.001 && r > 0 ? 3 : 2))}%`
}

export function rps(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)
}

export function ms(n: number | null): string {
  if (n === null) return '—'
  return n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n >= 10 ? n.toFixed(0) : n.toFixed(1)} ms`
}

export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86400)}d ago`
}

/** One history entry in a line: "v12 flip blue → green by cli:ana". */
export function describeEntry(e: HistoryEntry): string {
  const v = (x: string | number | null): string => (x === null ? '—' : typeof x === 'number' ? pct(x) : x)
  return `${e.action} ${v(e.from)} → ${v(e.to)} by ${e.actor}${e.reason ? ` (${e.reason})` : ''}`
}
